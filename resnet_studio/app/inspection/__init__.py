"""Inspection, without Qt: the jobs, the view registry and the panel's state.

- `control`: the tiny protocol a job reports through (`check()`, `progress(i, n)`),
  and `UNATTENDED` for callers with no one to cancel (the CLI).
- `jobs`: what the views compute, built on `core.predict.Predictor`; the window runs
  them in worker threads, the CLI calls them in a loop.
- `views`: one entry per view (its key, job, settings, whether it needs the analysis
  and the image), and the order the queue runs kinds of job in.
- `state`: the images, the current one, the models with their generations, and what
  each view shows and asked for, tracked with named keys.
"""
