"""The composition root: the `pingan` command line and the wiring that builds the running hub.

It sits above every other package (devices < alerts < hub < dashboards < pingan, checked by
import-linter): only here are the daemon (hub/), the web (dashboards/) and the simulators
(simulators/) put together, so none of them needs to import another sideways.
"""
