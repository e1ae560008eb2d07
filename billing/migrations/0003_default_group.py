from django.db import migrations


def create_default_group(apps, schema_editor):
    Group = apps.get_model("billing", "Group")
    Group.objects.get_or_create(name="default", defaults={"description": "Everyone starts here."})


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_initial")]

    operations = [migrations.RunPython(create_default_group, migrations.RunPython.noop)]
