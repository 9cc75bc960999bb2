"""Where the evidence of a failed bot step is kept, and how an admin gets it back: by job, attempt and file name.

A bot writes its evidence (screenshot, saved page, trace) into a folder of ``<data>/evidence/<system>/``. With
``VHUB_EVIDENCE_STORE=folder`` (the default, one machine) it stays there. With ``database`` (workers on several
hosts) the files are moved into the store's ``evidence_files`` table and the folder removed, so the review app on
any host serves what a worker on another kept; nothing an admin needs stays on a worker's disk. Either way only
the fixed list of ``FILES`` is ever kept or served, addressed by job id, attempt number and name, never by a path.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import select

from vhub.logs import get_logger
from vhub.settings import Settings
from vhub.store import Database
from vhub.store.tables import EvidenceFileRow

log = get_logger(__name__)

FILES = {  # the only files of an evidence folder that are ever kept in the store or served, and how
    "screenshot.png": "image/png",
    "trace.zip": "application/zip",
    "page.html": "text/plain; charset=utf-8",
    "fetched.html": "text/plain; charset=utf-8",
    "fetched-url.txt": "text/plain; charset=utf-8",
}
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Evidence:
    """One evidence folder a failed attempt left: ``number`` addresses it (1 = the oldest), ``folder`` is where it
    is (``<system>/<name>`` when kept in the store), ``files`` the names of the fixed list it holds."""

    number: int
    folder: Path
    files: tuple[str, ...]
    in_database: bool = False


class EvidenceStore(Protocol):
    def keep(self, folder: Path, job_id: str) -> str:
        """Take in a folder a bot has just written; where it now is, for the log."""

    def of_job(self, job_id: str) -> tuple[Evidence, ...]:
        """The evidence the job's failed attempts left, oldest first."""

    def read(self, job_id: str, number: int, name: str) -> bytes | None:
        """The file ``name`` of the job's ``number``th evidence, or None."""

    def of_submission(self, portal: str, key: str) -> list[str]:
        """The evidence kept while sending the submission with ``key`` (named by it), newest first."""


def store_for(settings: Settings, db: Database) -> EvidenceStore:
    """The evidence store the settings name."""
    if settings.evidence_store == "database":
        return DatabaseEvidence(db)
    return FolderEvidence(settings.evidence_dir)


class FolderEvidence:
    """Evidence in ``<data>/evidence`` on this machine."""

    def __init__(self, evidence_dir: Path) -> None:
        self.evidence_dir = evidence_dir

    def keep(self, folder: Path, job_id: str) -> str:
        return str(folder)

    def of_job(self, job_id: str) -> tuple[Evidence, ...]:
        if not JOB_ID.fullmatch(job_id) or not self.evidence_dir.is_dir():
            return ()
        folders = sorted(
            (path for path in self.evidence_dir.glob(f"*/*-failure-{job_id}-*") if path.is_dir()),
            key=lambda path: path.name,
        )
        return tuple(
            Evidence(number, folder, tuple(name for name in FILES if (folder / name).is_file()))
            for number, folder in enumerate(folders, start=1)
        )

    def read(self, job_id: str, number: int, name: str) -> bytes | None:
        for evidence in self.of_job(job_id):
            if evidence.number == number and name in evidence.files:
                return (evidence.folder / name).read_bytes()  # a path found on disk, never one asked for
        return None

    def of_submission(self, portal: str, key: str) -> list[str]:
        folder = self.evidence_dir / portal
        return sorted((str(path) for path in folder.glob(f"*-{key}") if path.is_dir()), reverse=True)


class DatabaseEvidence:
    """Evidence in the store's ``evidence_files`` table, shared by every host."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def keep(self, folder: Path, job_id: str) -> str:
        files = {name: (folder / name).read_bytes() for name in FILES if (folder / name).is_file()}
        system = folder.parent.name
        with self.db.session() as session:
            for name, content in files.items():
                session.add(
                    EvidenceFileRow(system=system, folder=folder.name, job_id=job_id, name=name, content=content)
                )
        shutil.rmtree(folder)
        return f"{system}/{folder.name} in the database"

    def _folders(self, job_id: str) -> list[tuple[str, str, tuple[str, ...]]]:
        with self.db.session(read_only=True) as session:
            rows = session.execute(
                select(EvidenceFileRow.system, EvidenceFileRow.folder, EvidenceFileRow.name).where(
                    EvidenceFileRow.job_id == job_id
                )
            ).all()
        found: dict[tuple[str, str], set[str]] = {}
        for system, folder, name in rows:
            if f"-failure-{job_id}-" in folder:
                found.setdefault((system, folder), set()).add(name)
        ordered = sorted(found.items(), key=lambda item: item[0][1])
        return [(system, folder, tuple(n for n in FILES if n in names)) for (system, folder), names in ordered]

    def of_job(self, job_id: str) -> tuple[Evidence, ...]:
        if not JOB_ID.fullmatch(job_id):
            return ()
        return tuple(
            Evidence(number, Path(system) / folder, files, in_database=True)
            for number, (system, folder, files) in enumerate(self._folders(job_id), start=1)
        )

    def read(self, job_id: str, number: int, name: str) -> bytes | None:
        if name not in FILES or not JOB_ID.fullmatch(job_id):
            return None
        folders = self._folders(job_id)
        if not 1 <= number <= len(folders) or name not in folders[number - 1][2]:
            return None
        system, folder, _files = folders[number - 1]
        with self.db.session(read_only=True) as session:
            return session.scalar(
                select(EvidenceFileRow.content).where(
                    EvidenceFileRow.system == system, EvidenceFileRow.folder == folder, EvidenceFileRow.name == name
                )
            )

    def of_submission(self, portal: str, key: str) -> list[str]:
        with self.db.session(read_only=True) as session:
            folders = session.scalars(
                select(EvidenceFileRow.folder)
                .where(EvidenceFileRow.system == portal, EvidenceFileRow.folder.endswith(f"-{key}", autoescape=True))
                .distinct()
            ).all()
        return [f"{portal}/{folder} (in the database)" for folder in sorted(folders, reverse=True)]
