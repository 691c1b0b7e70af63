"""The desktop app: PySide6 + pyqtgraph widgets that render `resnet_studio.core`.

Nothing here computes; panels forward clicks to core functions run in worker
threads (`workers.py`) and draw the plain values those return; training runs in a
child process (`core/training_process.py`). Importing this package imports no torch,
so the window can appear before PyTorch has loaded.

No tensor work on the GUI thread, not even a small one: besides blocking the window,
a parallel torch op there would leave the GUI thread an OpenMP thread team for the
rest of the session, and with a worker's team alive as well libgomp stops
spin-waiting: a worker's training ran a quarter slower, and the Inspection panel's
forwards about 1.5x slower (bench/RESULTS.md).
"""
