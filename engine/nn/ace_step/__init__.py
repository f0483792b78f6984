"""ACE-Step 1.5 in plain torch: the Qwen3 text encoder, the condition encoder, the DiT, the cover tokenizer and
the Oobleck VAE, loaded from the official download layout (``engine.nn.ace_step.model.AceStepModel``)."""
