"""The notebook file cut in half, so it is not valid JSON (malformed notebook JSON)."""
# effdl-attack: build=bytes mutate=truncate expect_lost=a1.true_false,a2.closed_form,a2.worker_gradient,a2.server_step,a2.train_plain,a2.terngrad,a2.train_terngrad,a2.clip_gradient,a2.train_clip,a2.train_tern_clip,a3.loss_and_grad,a3.project_top_k,a3.soft_threshold,a3.trimmed_soft_threshold,a3.train_gd,a3.train_prune,a3.train_l1,a3.train_prox,a3.train_trimmed,a3.extra_two_points,a4.csc_encode,a4.csc_storage_bits,a4.size_formula,a4.max_k graded=no feedback_contains="could not be graded" feedback_contains="not valid JSON"

NOTE = "the builder truncates the notebook"
