"""How each resource type Prism emulates is created in moto (or, for functions and layers, only named).

Every creator takes a ``MotoContext`` and a logical id and returns the resource's ``PhysicalResource``. Each
finds what already exists before it creates anything, so provisioning twice creates nothing twice.
"""
