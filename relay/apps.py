from django.apps import AppConfig


class RelayConfig(AppConfig):
    name = "relay"
    verbose_name = "Relay"

    def ready(self):
        from core import lifecycle, signals
        from providers import tokenizer
        from relay import client, metrics, tasks  # noqa: F401 (registers its job)
        from relay.health import cooling

        # channels_app says when a channel passed a test; cooling is ours to end.
        signals.channel_passed_test.connect(cooling.passed_test,
                                            dispatch_uid="relay.cooling.passed_test")

        lifecycle.on_startup(metrics.remove_stale_dirs)
        lifecycle.on_startup(tokenizer.encoding)  # load the BPE ranks before traffic
        lifecycle.on_shutdown(client.close_clients)
        lifecycle.on_shutdown(metrics.mark_process_dead)
