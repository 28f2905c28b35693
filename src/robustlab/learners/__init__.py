"""Learners: SGD, adversarial training, Neuro-Tron, projected convex SGD, gradient flow."""
