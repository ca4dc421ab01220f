"""3,000 random bytes handed in as the notebook: recorded as "graded" with 0 points and no
flag. Now refused as not gradable, with the reason, so the class's summary counts it."""
# effdl-attack: build=bytes mutate=random graded=no expect_lost=a1.true_false,a2.closed_form,a2.worker_gradient,a2.server_step,a2.train_plain,a2.terngrad,a2.train_terngrad,a2.clip_gradient,a2.train_clip,a2.train_tern_clip,a3.loss_and_grad,a3.project_top_k,a3.soft_threshold,a3.trimmed_soft_threshold,a3.train_gd,a3.train_prune,a3.train_l1,a3.train_prox,a3.train_trimmed,a3.extra_two_points,a4.csc_encode,a4.csc_storage_bits,a4.size_formula,a4.max_k feedback_contains="could not be graded" feedback_contains="not valid JSON" threat=staging

NOTE = "the builder replaces the notebook by random bytes"
