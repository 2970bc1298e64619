"""`python -m prism_local.stack.moto_entry [moto server args]`: moto's server with Prism's fidelity fixes."""

from __future__ import annotations

from moto.server import main

from prism_local.stack import moto_fidelity

if __name__ == "__main__":
    moto_fidelity.apply()
    main()
