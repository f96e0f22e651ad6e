"""Review tasks in the database: create one from a selection, list them, measure progress."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select

from misclass.errors import InputError
from misclass.review import selection
from misclass.review.context import ReviewContext
from misclass.review.schema import MODES, Database, Decision, Flag, Pick, Task, TaskItem
from misclass.review.selection import TaskProgress, task_progress

TASK_NAME = re.compile(r"^[\w][\w .:+-]{0,79}$")


@dataclass(frozen=True)
class TaskInfo:
    """A task as stored (params: how its images were chosen)."""

    id: int
    name: str
    kind: str
    mode: str
    top5: bool
    n_items: int
    params: dict


def _info(t: Task) -> TaskInfo:
    return TaskInfo(t.id, t.name, t.kind, t.mode, t.top5, t.n_items, json.loads(t.params or "{}"))


def read_id_list(path: str | Path) -> list[tuple[str, str]]:
    """``(where, sample_id)`` from a file with one id a line, or a CSV with a ``sample_id`` column."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--ids {path}: no such file")
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (expected one sample id a line)") from None
    return parse_id_list(text, str(path))


def parse_id_list(text: str, source: str) -> list[tuple[str, str]]:
    """``(where, sample_id)`` from text with one id a line, or CSV text with a ``sample_id`` column."""
    path = source
    lines = text.splitlines()
    first = lines[0].split(",") if lines else []
    if "sample_id" in [c.strip() for c in first]:
        reader = csv.DictReader(lines)
        return [(f"{path}: row {row}", str(rec["sample_id"]).strip())
                for row, rec in enumerate(reader, 2) if (rec["sample_id"] or "").strip()]
    return [(f"{path}: line {row}", line.strip()) for row, line in enumerate(lines, 1) if line.strip()]


def select_images(ctx: ReviewContext, kind: str, *, pair: tuple[str, str] | None = None,
                  size: int | None = None, seed: int = 0, ids: str | Path | None = None,
                  id_text: str | None = None) -> tuple[np.ndarray, dict]:
    """Store indices for a task of ``kind`` (see :data:`selection.TASK_KINDS`) and the parameters used.

    Kind ``ids`` reads the file ``ids`` or, from the app, the text ``id_text``.
    """
    params: dict = {"seed": seed}
    top1 = ctx.topk[:, :, 0]
    needs_models = kind in ("disagreement", "all-miss", "pair")
    if needs_models and top1.shape[1] == 0:
        raise InputError(f"task kind {kind!r} needs models in the store {ctx.store.path}; it has none")
    if kind == "disagreement":
        idx = selection.select_disagreement(top1)
    elif kind == "all-miss":
        idx = selection.select_all_miss(ctx.labels, top1)
    elif kind == "pair":
        if not pair or len(pair) != 2:
            raise InputError("task kind 'pair' needs --pair CLASS_A,CLASS_B (e.g. marmot,beaver)")
        a = ctx.resolve_class(pair[0], "--pair, first class")
        b = ctx.resolve_class(pair[1], "--pair, second class")
        idx = selection.select_class_pair(ctx.labels, top1, a, b)
        params["pair"] = [a, b]
    elif kind == "random":
        idx = selection.select_random(ctx.n, size or 100, seed=seed)
    elif kind == "ids":
        if ids is None and id_text is None:
            raise InputError("task kind 'ids' needs --ids FILE (one sample id a line)")
        wanted = read_id_list(ids) if ids is not None else parse_id_list(id_text, "id list")
        idx = selection.select_ids(ctx.sample_ids, wanted)
        params["ids"] = str(ids) if ids is not None else f"{len(idx)} ids"
    elif kind == "label-issues":  # the top of misclass label-issues' ranking, most likely wrong first
        from misclass.workflows.label_issues import label_issues

        idx = label_issues(ctx.store).top_indices(size or 100)
    else:
        raise InputError(f"task kind {kind!r}: expected one of {', '.join(selection.TASK_KINDS)}")
    if kind not in ("random", "label-issues"):
        idx = selection.limit(idx, size, seed=seed)
    if size is not None:
        params["size"] = size
    if len(idx) == 0:
        raise InputError(f"task kind {kind!r}: no image of the store matches")
    return idx, params


def create_task(db: Database, ctx: ReviewContext, name: str, kind: str, *, mode: str = "review",
                top5: bool = False, pair: tuple[str, str] | None = None, size: int | None = None,
                seed: int = 0, ids: str | Path | None = None, id_text: str | None = None,
                created_by: str = "cli") -> TaskInfo:
    """Select the images and store the task with its items in one transaction."""
    name = (name or "").strip()
    if not TASK_NAME.match(name):
        raise InputError(f"task name {name!r}: use 1-80 letters, digits, spaces, '.', ':', '+', '-'")
    if mode not in MODES:
        raise InputError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    if size is not None and size < 1:
        raise InputError(f"size {size}: must be at least 1")
    idx, params = select_images(ctx, kind, pair=pair, size=size, seed=seed, ids=ids, id_text=id_text)
    with db.write() as s, s.begin():
        if s.scalar(select(Task.id).where(Task.name == name)) is not None:
            raise InputError(f"a task named {name!r} already exists")
        task = Task(name=name, kind=kind, mode=mode, top5=top5, params=json.dumps(params),
                    n_items=len(idx), created_by=created_by)
        s.add(task)
        s.flush()
        s.add_all([TaskItem(task_id=task.id, position=p, sample_index=int(i),
                            sample_id=str(ctx.sample_ids[i])) for p, i in enumerate(idx)])
        return _info(task)


def list_tasks(db: Database) -> list[TaskInfo]:
    """Every task, oldest first."""
    with db.read() as s:
        return [_info(t) for t in s.scalars(select(Task).order_by(Task.id))]


def get_task(db: Database, task_id: int) -> TaskInfo:
    """One task; an unknown id is an InputError."""
    with db.read() as s:
        t = s.get(Task, task_id)
    if t is None:
        raise InputError(f"task {task_id}: no such task")
    return _info(t)


def task_items(db: Database, task_id: int) -> list[tuple[int, str]]:
    """(sample index, sample id) of each position of the task."""
    with db.read() as s:
        return [(r[0], r[1]) for r in s.execute(
            select(TaskItem.sample_index, TaskItem.sample_id).where(TaskItem.task_id == task_id)
            .order_by(TaskItem.position))]


def item_completed(ctx: ReviewContext, task: TaskInfo, items: list[tuple[int, str]], user_id: int,
                   db: Database) -> np.ndarray:
    """Per position, whether this reviewer has finished the image.

    Finished: every candidate decided or the image flagged; in labeling modes a class picked.
    """
    ids = [sid for _, sid in items]
    done = np.zeros(len(items), dtype=bool)
    with db.read() as s:
        if task.mode == "review":
            decided: dict[str, set[int]] = {}
            rows = s.execute(select(Decision.sample_id, Decision.class_index)
                             .join(TaskItem, TaskItem.sample_id == Decision.sample_id)
                             .where(TaskItem.task_id == task.id, Decision.user_id == user_id))
            for sid, c in rows:
                decided.setdefault(sid, set()).add(c)
            flagged = set(s.scalars(select(Flag.sample_id)
                                    .join(TaskItem, TaskItem.sample_id == Flag.sample_id)
                                    .where(TaskItem.task_id == task.id, Flag.user_id == user_id,
                                           Flag.problematic.is_(True))))
            for p, (i, sid) in enumerate(items):
                if sid in flagged:
                    done[p] = True
                elif sid in decided:
                    done[p] = ctx.candidate_set(i, top5=task.top5) <= decided[sid]
        else:
            picked = set(s.scalars(select(Pick.sample_id)
                                   .join(TaskItem, TaskItem.sample_id == Pick.sample_id)
                                   .where(TaskItem.task_id == task.id, Pick.user_id == user_id)))
            done = np.array([sid in picked for sid in ids], dtype=bool)
    return done


def progress(ctx: ReviewContext, db: Database, task: TaskInfo, user_id: int) -> TaskProgress:
    """The reviewer's progress on a task."""
    items = task_items(db, task.id)
    return task_progress(item_completed(ctx, task, items, user_id, db))
