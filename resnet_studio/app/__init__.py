"""The application layer: state and jobs that the window and the CLI share. No Qt.

`gui` binds widgets to these objects and forwards clicks to them; the CLI calls the
same jobs and prints what they return. Everything here calls `core` for the
computing and holds plain Python values, so it is tested without a display.

- `observable`: the tiny callback signal the state objects emit.
- `model`: the network the user works on (choice and weights) and its description.
- `inspection`: the inspection jobs, the view registry and the staleness of views.
- `training`: live-run bookkeeping, run series, smoothing and CSV export.
"""
