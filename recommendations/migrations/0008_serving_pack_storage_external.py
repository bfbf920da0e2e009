from django.db import migrations


def _storage_external(apps, schema_editor):
    # Stored uncompressed, so that a part of a pack is read without decompressing all that comes
    # before it (recommendations/storefront/packs.py reads a pack in parts). PostgreSQL only.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute('ALTER TABLE "recommendations_servingpack" ALTER COLUMN "data" SET STORAGE EXTERNAL')
        # Packs stored before are rewritten so: the live and the previous version's of each shop.
        schema_editor.execute('UPDATE "recommendations_servingpack" SET "data" = "data" || \'\'::bytea')


def _storage_extended(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute('ALTER TABLE "recommendations_servingpack" ALTER COLUMN "data" SET STORAGE EXTENDED')


class Migration(migrations.Migration):
    dependencies = [("recommendations", "0007_serving_pack")]

    operations = [migrations.RunPython(_storage_external, _storage_extended)]
