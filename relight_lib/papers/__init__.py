"""The papers: one module (or package) per paper with its recipes and runners."""
