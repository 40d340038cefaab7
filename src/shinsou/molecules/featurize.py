"""SMILES -> molecular graphs with RDKit: atoms are nodes (one-hot element, degree, formal charge, hydrogens,
hybridisation; aromatic and ring flags; Wildman-Crippen logP/MR and Ertl TPSA contributions), bonds are edges both
ways (one-hot bond type; conjugated, ring flags)."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from rdkit import Chem, RDLogger
from rdkit.Chem import Descriptors, rdFingerprintGenerator, rdMolDescriptors
from torch_geometric.data import Data

# Each list is one one-hot block; a value outside the list falls in the block's last slot ("other").
ELEMENTS = ["C", "N", "O", "S", "F", "Cl", "Br", "I", "P", "B", "Si", "Se", "other"]
DEGREES = [0, 1, 2, 3, 4, 5, "other"]
FORMAL_CHARGES = [-2, -1, 0, 1, 2, "other"]
HYDROGENS = [0, 1, 2, 3, 4]  # attached hydrogens, 4 standing for 4 or more
HYBRIDISATIONS = [Chem.HybridizationType.SP, Chem.HybridizationType.SP2, Chem.HybridizationType.SP3,
                  Chem.HybridizationType.SP3D, Chem.HybridizationType.SP3D2, "other"]
BOND_TYPES = [Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE, Chem.BondType.AROMATIC]

ONE_HOT_WIDTH = len(ELEMENTS) + len(DEGREES) + len(FORMAL_CHARGES) + len(HYDROGENS) + len(HYBRIDISATIONS)  # 37
AROMATIC_INDEX, RING_INDEX = ONE_HOT_WIDTH, ONE_HOT_WIDTH + 1  # the two flags after the one-hot blocks
# Each atom's share of the molecule's Wildman-Crippen logP and molar refractivity (/10) and of Ertl's TPSA (/20):
# summed over atoms they give the whole-molecule values, which govern membrane (and blood-brain-barrier) passage.
CONTRIBUTIONS = ("crippen_logp", "crippen_mr/10", "tpsa/20")
ATOM_FEATURES = ONE_HOT_WIDTH + 2 + len(CONTRIBUTIONS)  # 42
BOND_FEATURES = len(BOND_TYPES) + 2  # 6

FINGERPRINT_RADIUS, FINGERPRINT_BITS = 2, 2048
# whole-molecule physico-chemical descriptors (RDKit): lipophilicity, polar surface, size, H-bonding, flexibility
DESCRIPTORS = ("MolLogP", "TPSA", "MolWt", "NumHDonors", "NumHAcceptors", "NumRotatableBonds", "RingCount",
               "NumAromaticRings", "FractionCSP3", "HeavyAtomCount", "NHOHCount", "NOCount")


def one_hot(value, choices: list) -> list[float]:
    out = [0.0] * len(choices)
    out[choices.index(value) if value in choices else len(choices) - 1] = 1.0
    return out


def atom_features(atom: Chem.Atom, contributions: tuple[float, ...]) -> list[float]:
    return (one_hot(atom.GetSymbol(), ELEMENTS)
            + one_hot(atom.GetDegree(), DEGREES)
            + one_hot(atom.GetFormalCharge(), FORMAL_CHARGES)
            + one_hot(min(atom.GetTotalNumHs(), 4), HYDROGENS)
            + one_hot(atom.GetHybridization(), HYBRIDISATIONS)
            + [float(atom.GetIsAromatic()), float(atom.IsInRing())]
            + list(contributions))


def atom_contributions(mol: Chem.Mol) -> list[tuple[float, float, float]]:
    """Per heavy atom: (Crippen logP, Crippen MR / 10, TPSA / 20), its hydrogens' Crippen shares folded in, so that
    the sums equal RDKit's MolLogP, MolMR / 10 and TPSA / 20."""
    n = mol.GetNumAtoms()
    with_h = Chem.AddHs(mol)  # hydrogens are appended after the heavy atoms
    crippen = rdMolDescriptors._CalcCrippenContribs(with_h)  # [(logP, MR)] per atom, hydrogens included
    logp, mr = [c[0] for c in crippen[:n]], [c[1] for c in crippen[:n]]
    for atom in list(with_h.GetAtoms())[n:]:
        parent = atom.GetNeighbors()[0].GetIdx() if atom.GetDegree() else None
        if parent is not None and parent < n:
            logp[parent] += crippen[atom.GetIdx()][0]
            mr[parent] += crippen[atom.GetIdx()][1]
    tpsa = rdMolDescriptors._CalcTPSAContribs(mol)  # per heavy atom
    return [(logp[i], mr[i] / 10.0, tpsa[i] / 20.0) for i in range(n)]


def bond_features(bond: Chem.Bond) -> list[float]:
    return one_hot(bond.GetBondType(), BOND_TYPES) + [float(bond.GetIsConjugated()), float(bond.IsInRing())]


@contextmanager
def quiet_rdkit():
    """RDKit prints parse errors itself; we report them as one line with the row instead."""
    RDLogger.DisableLog("rdApp.*")
    try:
        yield
    finally:
        RDLogger.EnableLog("rdApp.*")


def parse_smiles(smiles: str) -> Chem.Mol | None:
    """The molecule, or None when RDKit cannot parse it (an empty string is not a molecule either)."""
    if not isinstance(smiles, str) or not smiles.strip():
        return None
    with quiet_rdkit():
        mol = Chem.MolFromSmiles(smiles.strip())
    return mol if mol is not None and mol.GetNumAtoms() > 0 else None


def mol_to_graph(mol: Chem.Mol) -> Data:
    """x (atoms, 42), edge_index (2, 2 * bonds) with each bond in both directions, edge_attr (2 * bonds, 6)."""
    contributions = atom_contributions(mol)
    x = torch.tensor([atom_features(a, c) for a, c in zip(mol.GetAtoms(), contributions)],
                     dtype=torch.float32)  # (atoms, 42)
    src, dst, attr = [], [], []
    for bond in mol.GetBonds():
        i, j, f = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx(), bond_features(bond)
        src += [i, j]
        dst += [j, i]
        attr += [f, f]
    edge_index = torch.tensor([src, dst], dtype=torch.long).reshape(2, -1)  # (2, 2 * bonds)
    edge_attr = torch.tensor(attr, dtype=torch.float32).reshape(-1, BOND_FEATURES)  # (2 * bonds, 6)
    return Data(x=x, edge_index=edge_index, edge_attr=edge_attr)


def smiles_to_graph(smiles: str) -> Data | None:
    mol = parse_smiles(smiles)
    return None if mol is None else mol_to_graph(mol)


_MORGAN = None


def morgan_fingerprint(mol: Chem.Mol) -> np.ndarray:
    """Morgan (ECFP4-like) bits, radius 2, 2,048 bits: the random-forest baseline's input. (2048,) uint8."""
    global _MORGAN
    if _MORGAN is None:
        _MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=FINGERPRINT_RADIUS, fpSize=FINGERPRINT_BITS)
    return _MORGAN.GetFingerprintAsNumPy(mol).astype(np.uint8)


def descriptors(mol: Chem.Mol) -> np.ndarray:
    """(len(DESCRIPTORS) + 1,) float32: the RDKit descriptors above and the net formal charge."""
    values = [float(getattr(Descriptors, name)(mol)) for name in DESCRIPTORS]
    values.append(float(Chem.GetFormalCharge(mol)))
    return np.nan_to_num(np.asarray(values, dtype=np.float32))


DESCRIPTOR_COUNT = len(DESCRIPTORS) + 1
# RDKit's whole 2D descriptor list (about 200: surface-area bins, E-state and charge ranges, fragment counts...),
# the graph-level features chemprop's "rdkit_2d" option adds to its message-passing network
RDKIT_DESCRIPTOR_NAMES = tuple(name for name, _ in Descriptors._descList)
DESCRIPTOR_SETS = {"none": 0, "basic": DESCRIPTOR_COUNT, "rdkit": len(RDKIT_DESCRIPTOR_NAMES)}


def rdkit_descriptors(mol: Chem.Mol) -> np.ndarray:
    """(len(RDKIT_DESCRIPTOR_NAMES),) float32, each value as sign(v) log(1 + |v|): some descriptors (Ipc, BertzCT)
    span many orders of magnitude, and the log keeps z-scoring meaningful; NaN and infinities become 0."""
    values = np.asarray(list(Descriptors.CalcMolDescriptors(mol, missingVal=0.0).values()), dtype=np.float64)
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    return (np.sign(values) * np.log1p(np.abs(values))).astype(np.float32)


def descriptor_vector(mol: Chem.Mol, kind: str) -> np.ndarray:
    """The per-molecule descriptor set named by `kind` (a key of DESCRIPTOR_SETS other than "none")."""
    return descriptors(mol) if kind == "basic" else rdkit_descriptors(mol)
