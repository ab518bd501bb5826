"""Refuse, in the database itself, a plan step that depends on a step of another plan.

A CHECK constraint cannot look at another row, so this is a trigger, written
for each backend the platform supports.
"""

from django.db import migrations

SQLITE_CREATE = """
CREATE TRIGGER agents_planstepdependency_same_plan
BEFORE INSERT ON agents_planstepdependency
FOR EACH ROW
WHEN (SELECT plan_id FROM agents_planstep WHERE id = NEW.step_id)
  IS NOT (SELECT plan_id FROM agents_planstep WHERE id = NEW.depends_on_id)
BEGIN
  SELECT RAISE(ABORT, 'plan step dependency crosses plans');
END;
"""
SQLITE_CREATE_UPDATE = SQLITE_CREATE.replace("BEFORE INSERT", "BEFORE UPDATE").replace(
    "agents_planstepdependency_same_plan", "agents_planstepdependency_same_plan_update"
)
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS agents_planstepdependency_same_plan;",
    "DROP TRIGGER IF EXISTS agents_planstepdependency_same_plan_update;",
]

POSTGRES_CREATE = """
CREATE FUNCTION agents_planstepdependency_same_plan() RETURNS trigger AS $$
BEGIN
  IF (SELECT plan_id FROM agents_planstep WHERE id = NEW.step_id)
     IS DISTINCT FROM (SELECT plan_id FROM agents_planstep WHERE id = NEW.depends_on_id) THEN
    RAISE EXCEPTION 'plan step dependency crosses plans' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER agents_planstepdependency_same_plan
BEFORE INSERT OR UPDATE ON agents_planstepdependency
FOR EACH ROW EXECUTE FUNCTION agents_planstepdependency_same_plan();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS agents_planstepdependency_same_plan ON agents_planstepdependency;
DROP FUNCTION IF EXISTS agents_planstepdependency_same_plan();
"""


def create_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        schema_editor.execute(SQLITE_CREATE)
        schema_editor.execute(SQLITE_CREATE_UPDATE)
    elif vendor == "postgresql":
        schema_editor.execute(POSTGRES_CREATE)
    else:
        raise RuntimeError(f"No plan-step dependency trigger for database vendor {vendor!r}")


def drop_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)
    elif vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP)


class Migration(migrations.Migration):
    dependencies = [("agents", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
