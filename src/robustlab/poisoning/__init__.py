"""Training-time attacks: clean-label poisoning, label flips, bounded label-noise oracles."""
