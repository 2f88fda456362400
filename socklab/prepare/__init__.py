"""Preparing a machine for socklab: the catalog of what it needs (``catalog``) and preparing a set (``run``)."""

from socklab.prepare.catalog import CATALOG, SETS, Prerequisite
from socklab.prepare.run import Outcome, prepare

__all__ = ["CATALOG", "SETS", "Outcome", "Prerequisite", "prepare"]
