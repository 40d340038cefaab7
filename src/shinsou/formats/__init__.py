"""File formats shared by the pipelines: IDX (MNIST distribution) and the Kaggle digit CSV.
Readers validate sizes and values and raise DataError with one line naming the file."""
