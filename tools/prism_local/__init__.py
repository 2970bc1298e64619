"""Prism's local-only tooling: the private server stack, the template-driven Lambda runtime and the demo.

Nothing in here ships to AWS: the layer is built from shared/ only.
"""
