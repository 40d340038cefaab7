"""Communities: semi-supervised node classification with a GCN (Kipf & Welling 2017) on karate club, Planetoid
or CSV graphs; data in data.py, training in train.py, report, pipeline (evaluate/predict), cli."""
