"""The notebook cut in half (not valid JSON), beside an honest FP_layers.py: the STE, which
lives in that file, keeps its points (malformed notebook JSON)."""
# effdl-attack: build=bytes mutate=truncate expect_lost=b1.true_false,b3.prune_by_percentage,b3.global_prune,b3.finetune_keeps_zeros,b3.finetune_trains feedback_contains="not valid JSON" quick=1

NOTE = "the builder truncates the notebook"
