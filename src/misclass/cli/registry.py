"""Which module defines each command, and the click group that imports it only when used.

``misclass --help`` lists :data:`COMMANDS` with their one-line help without importing any
command module (they import pandas, scipy and scikit-learn); ``misclass X ...`` (``--help``
included) imports only the module of ``X``. A new command module is added here: a test
checks that every module of :mod:`misclass.cli` is listed and that each help line is the
first paragraph of the command's own help.
"""

from __future__ import annotations

import importlib
import inspect
from typing import NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup


class Entry(NamedTuple):
    """A command (or command group) of ``misclass``: its module and its one-line help."""

    module: str
    help: str


#: command or group name -> where it is defined; ``misclass --help`` lists them in this order.
COMMANDS: dict[str, Entry] = {
    "demo": Entry("misclass.cli.demo", "Train the builtin zoo on the digits dataset, write the store "
                  "and the report."),
    "import": Entry("misclass.cli.imports", "Import predictions from files into a store."),
    "predict": Entry("misclass.cli.predict", "Predict with several models in one pass over a dataset "
                     "and store every prediction."),
    "train": Entry("misclass.cli.train", "Train architectures with one set of hyperparameters; store "
                   "their test predictions."),
    "models": Entry("misclass.cli.models", "List the models in a store with their top-1 and top-5 "
                    "accuracy."),
    "evaluate": Entry("misclass.cli.evaluate", "Top-1, top-5 and multi-label accuracy per predictor, "
                      "and accuracy per group of classes."),
    "shift": Entry("misclass.cli.evaluate", "Accuracy drop under distribution shift and each model's "
                   "effective robustness."),
    "factors": Entry("misclass.cli.evaluate", "ImageNet-X error ratios: error rate on images with a "
                     "factor / error rate on all annotated images."),
    "set-kind": Entry("misclass.cli.evaluate", "Mark predictors as humans (or back as models); "
                      "analyses then tell humans from models."),
    "compare": Entry("misclass.cli.compare", "Compare models image by image: which model corrects "
                     "which, oracle accuracy of pairs and k-model combinations, images every model "
                     "misses, error consistency, real ensembles."),
    "confusion": Entry("misclass.cli.confusion", "Where each model fails: class-wise error rate u_i, "
                       "conditional confusion v(j|i), misclassification networks, confusion patterns "
                       "shared across models, a chi-squared test of homogeneity of the class-wise "
                       "errors, and (with stored probabilities) the scores of misclassified images "
                       "compared between two groups of confusion pairs."),
    "label-issues": Entry("misclass.cli.label_issues", "Rank the images whose given label is most "
                          "likely wrong, from models and people."),
    "failure": Entry("misclass.cli.failure", "Score how likely each prediction is wrong and judge each "
                     "score on held-out images."),
    "explain": Entry("misclass.cli.explain", "Explain errors with saliency maps and test the "
                     "explanation by erasing what is salient."),
    "report": Entry("misclass.cli.report", "Write an HTML report (index.html plus PNG figures; SVG "
                    "too with --svg) that opens offline."),
    "app": Entry("misclass.cli.app_cmd", "Explore the errors in a web app: query images by which models "
                 "get them right or wrong, classes, scores and review state; browse them as thumbnails; "
                 "open an image's predictions, votes and nearest neighbours; click confusion and PCR "
                 "matrices. The review pages are part of it."),
    "review": Entry("misclass.cli.review", "The review web app: people mark which candidate labels of "
                    "each image are correct, flag problematic images and label images; the decisions "
                    "feed 'misclass evaluate --labels review'."),
}


def paragraphs(text: str | None) -> str | None:
    r"""A help text as paragraphs: a docstring's single line breaks become spaces, so that the
    terminal wraps each paragraph to its width (a paragraph that starts with ``\b`` keeps its
    lines, as in click)."""
    if not text:
        return text
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split())
                       for p in inspect.cleandoc(text).split("\n\n"))


def _keep_option_names_whole() -> None:
    """Typer's help prints the options as a table whose columns all shrink when the terminal
    is narrow, cutting option names (``--max-combinatio…``); here every column but the type
    and the help keeps its width, and the help wraps in what is left."""
    from rich.text import Text
    from typer import rich_utils

    if getattr(rich_utils.Table, "keeps_names_whole", False):
        return

    class HelpTable(rich_utils.Table):
        keeps_names_whole = True

        def add_row(self, *renderables, **kwargs) -> None:
            if renderables:  # a word longer than the help column folds (Typer's help is a
                # Columns of Texts, which cut such a word by default)
                for part in getattr(renderables[-1], "renderables", [renderables[-1]]):
                    if isinstance(part, Text):
                        part.overflow = "fold"
            super().add_row(*renderables, **kwargs)
            if len(self.columns) >= 3:  # the options panel: names..., type, help
                for column in self.columns[:-2]:
                    column.no_wrap = True
            self.columns[-1].overflow = "fold"

    rich_utils.Table = HelpTable


class HelpCommand(TyperCommand):
    """A command whose help keeps option names whole (see :func:`_keep_option_names_whole`)."""

    def format_help(self, ctx: typer.Context, formatter) -> None:
        _keep_option_names_whole()
        super().format_help(ctx, formatter)


class HelpGroup(TyperGroup):
    """A command group whose help keeps option names whole."""

    def format_help(self, ctx: typer.Context, formatter) -> None:
        _keep_option_names_whole()
        super().format_help(ctx, formatter)


def _as_paragraphs(command) -> None:
    """Rewrite the help of ``command``, its options and its sub-commands as paragraphs (once)."""
    if getattr(command, "as_paragraphs", False):
        return
    command.as_paragraphs = True
    command.help = paragraphs(command.help)
    for param in command.params:
        if getattr(param, "help", None):
            param.help = paragraphs(param.help)
    for sub in getattr(command, "commands", {}).values():
        _as_paragraphs(sub)


class LazyGroup(TyperGroup):
    """The ``misclass`` group: commands are built from their module on first use.

    Command modules register on :data:`misclass.cli.app.app` when imported; after importing
    one, every command it (and what it imports) registered is built and kept.
    """

    _listing = False

    def list_commands(self, ctx: typer.Context) -> list[str]:
        extra = [name for name in self.commands if name not in COMMANDS]
        return [*COMMANDS, *extra]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> TyperCommand | TyperGroup | None:
        command = self.commands.get(cmd_name)
        if command is not None or cmd_name not in COMMANDS:
            if command is not None:  # built by Typer (its module was imported before this group)
                _as_paragraphs(command)
                _keep_option_names_whole()  # its class is Typer's, whose help does not patch
            return command
        entry = COMMANDS[cmd_name]
        if self._listing:  # a stand-in that only shows its help line in ``misclass --help``
            return TyperCommand(name=cmd_name, help=entry.help, short_help=entry.help)
        importlib.import_module(entry.module)
        self._build_registered()
        return self.commands.get(cmd_name)

    def get_help_option(self, ctx: typer.Context):
        option = super().get_help_option(ctx)
        if option is not None and option.default is None:
            # A bool default spares Typer a pydantic coercion of the absent flag, and with it
            # importing pydantic (0.1-0.3 s) before ``misclass X --help`` can answer.
            option.default = False
        return option

    def format_help(self, ctx: typer.Context, formatter) -> None:
        _keep_option_names_whole()
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def _build_registered(self) -> None:
        """Build the click commands of everything registered on the app and not built yet."""
        from typer.main import get_command_from_info, get_command_name, get_group_from_info

        from misclass.cli.app import app

        style = {"pretty_exceptions_short": app.pretty_exceptions_short,
                 "rich_markup_mode": app.rich_markup_mode}
        for info in app.registered_commands:
            name = info.name or get_command_name(info.callback.__name__)
            if name not in self.commands:
                info.cls = HelpCommand if info.cls in (None, TyperCommand) else info.cls
                self.commands[name] = get_command_from_info(info, **style)
                _as_paragraphs(self.commands[name])
        for info in app.registered_groups:
            if info.name not in self.commands:
                info.cls = HelpGroup if info.cls in (None, TyperGroup) else info.cls
                for sub in info.typer_instance.registered_commands:
                    sub.cls = HelpCommand if sub.cls in (None, TyperCommand) else sub.cls
                self.commands[info.name] = get_group_from_info(
                    info, suggest_commands=app.suggest_commands, **style)
                _as_paragraphs(self.commands[info.name])


def load_all(group: TyperGroup) -> dict[str, TyperCommand | TyperGroup]:
    """Every command of ``group`` built (imports every command module); for tests and docs."""
    ctx = typer.Context(group)
    return {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}
