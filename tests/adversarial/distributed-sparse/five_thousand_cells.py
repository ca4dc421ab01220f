"""5,000 extra code cells (10,000 statements and 5,000 prints) after an honest notebook
(5,000 cells)."""

# effdl-attack: build=cells count=5000 tag=answer max_seconds=90 cost=30
padding_NNNN = NNNN
print("cell NNNN")
