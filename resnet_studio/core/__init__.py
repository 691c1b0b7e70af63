"""Everything that computes. Never imports Qt or pyqtgraph: runs headless."""
