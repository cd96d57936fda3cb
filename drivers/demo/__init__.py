"""The demo recipe and the demo databases it writes, through the writers' public names: a
``traces.db`` (:mod:`drivers.demo.sqlite`, the one ``make demo`` opens) and a Postgres database
with the logs around the runs (:mod:`drivers.demo.postgres`, ``trace-inspector demo --postgres``).
It is a data generator that uses the writers, not an adapter: nothing reads through it."""

from drivers.demo.recipe import DEMO_RECIPE_VERSION
from drivers.demo.sqlite import DemoSummary, default_demo_path, demo_recipe_version, ensure_demo, generate_demo

__all__ = ["DEMO_RECIPE_VERSION", "DemoSummary", "default_demo_path", "demo_recipe_version", "ensure_demo",
           "generate_demo"]
