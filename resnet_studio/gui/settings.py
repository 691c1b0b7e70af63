"""Where the app remembers things between sessions (window geometry, last folders).

Always the INI format under the user scope, on every platform, so tests can redirect
it with one `QSettings.setPath` call and never touch the user's real settings.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "resnet-studio"
APPLICATION = "resnet-studio"


def app_settings() -> QSettings:
    """The app's settings store (cheap to create; Qt caches the file)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def last_folder(key: str) -> str:
    """The folder a file dialog of kind `key` last used, or the home folder."""
    folder = app_settings().value(f"folders/{key}", "", type=str)
    return folder if folder and Path(folder).is_dir() else str(Path.home())


def remember_folder(key: str, path: str | Path) -> None:
    """Remember the folder of `path` (a file or folder) for the next dialog of kind `key`."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    app_settings().setValue(f"folders/{key}", str(folder))
