"""The desktop app: PySide6 + pyqtgraph widgets that render `resnet_studio.core`.

Nothing here computes; panels forward clicks to core functions run in worker
threads (`workers.py`) and draw the plain values those return. Importing this
package imports no torch, so the window can appear before PyTorch has loaded.
"""
