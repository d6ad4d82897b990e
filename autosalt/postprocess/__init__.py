"""Post-processing: per-view masks and loss maps -> per-view percents -> SALT.

Pure numpy functions; none modifies its inputs.
"""
