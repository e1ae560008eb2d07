from django.core.checks import Error, register


@register()
def check_adaptor_registry(app_configs=None, **kwargs):
    """Fail at start-up on a registry entry whose adaptor will not import."""
    from providers.registry import check_registry

    return [Error(problem, id="channels_app.E001") for problem in check_registry()]
