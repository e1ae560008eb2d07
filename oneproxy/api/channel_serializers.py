"""Channel serializer: plain JSON types, write-only keys, masked secrets on the way out."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from billing.models import Group
from billing.models.accounts import DEFAULT_GROUP
from channels_app.models import Channel, ChannelKey, ChannelStatus, validate_model_mapping
from channels_app.services import rebuild_routing, set_channel_status
from providers.registry import PROVIDER_CHOICES

MASK = "****"
# Config entries that are credentials (AWS/Vertex/Baidu secrets...): shown masked, and a
# masked value sent back on update keeps the stored one.
SECRET_CONFIG_KEYS = frozenset({
    "sk", "ak", "secret", "secret_key", "secret_access_key", "access_key_id", "api_key",
    "password", "private_key", "vertex_ai_adc", "credentials", "token",
})


def masked_config(config: dict) -> dict:
    return {k: (MASK if k in SECRET_CONFIG_KEYS and v else v) for k, v in config.items()}


class ChannelKeyStatusSerializer(serializers.ModelSerializer):
    key = serializers.CharField(source="masked", read_only=True)

    class Meta:
        model = ChannelKey
        fields = ["id", "key", "status", "status_reason", "tested_at", "response_ms",
                  "last_error"]
        read_only_fields = fields


class ChannelSerializer(serializers.ModelSerializer):
    type = serializers.ChoiceField(choices=PROVIDER_CHOICES, help_text=_("Provider id."))
    models = serializers.ListField(child=serializers.CharField(), source="model_names")
    model_mapping = serializers.DictField(child=serializers.CharField(), required=False)
    config = serializers.JSONField(required=False, help_text=_("Credentials are masked."))
    groups = serializers.SlugRelatedField(
        slug_field="name", many=True, queryset=Group.objects.all(), required=False
    )
    status = serializers.ChoiceField(choices=ChannelStatus.choices, required=False)
    keys = serializers.ListField(
        child=serializers.CharField(), write_only=True, min_length=1, required=False,
        help_text=_("Upstream keys, the full set (write-only). Keys kept on update keep "
                    "their per-key status."),
    )
    masked_keys = ChannelKeyStatusSerializer(source="keys", many=True, read_only=True)

    class Meta:
        model = Channel
        fields = ["id", "type", "name", "base_url", "config", "models", "model_mapping",
                  "groups", "priority", "weight", "status", "status_reason", "test_model",
                  "tested_at", "response_ms", "balance", "balance_currency",
                  "balance_updated_at", "balance_threshold", "used_quota", "tag", "created_at",
                  "keys", "masked_keys"]
        read_only_fields = ["status_reason", "tested_at", "response_ms", "balance",
                            "balance_currency", "balance_updated_at", "used_quota",
                            "created_at"]
        extra_kwargs = {"balance_threshold": {"coerce_to_string": False},
                        "balance": {"coerce_to_string": False}}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["config"] = masked_config(instance.config or {})
        return data

    def validate_model_mapping(self, value):
        try:
            validate_model_mapping(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return value

    def validate_config(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError(_("Provider config must be a JSON object."))
        stored = self.instance.config if self.instance is not None else {}
        return {k: stored.get(k, "") if v == MASK else v for k, v in value.items()}

    def validate_keys(self, value):
        keys = list(dict.fromkeys(k.strip() for k in value if k.strip()))
        if not keys:
            raise serializers.ValidationError(_("Give at least one non-empty key."))
        return keys

    def get_fields(self):
        fields = super().get_fields()
        fields["keys"].required = self.instance is None  # a channel needs a key to serve
        return fields

    @transaction.atomic
    def create(self, validated_data):
        keys = validated_data.pop("keys")
        groups = validated_data.pop("groups", None)
        channel = Channel.objects.create(**validated_data)
        channel.groups.set(groups or [Group.objects.get_or_create(name=DEFAULT_GROUP)[0]])
        ChannelKey.objects.bulk_create(ChannelKey(channel=channel, key=k) for k in keys)
        rebuild_routing(channel)  # bulk_create sends no signals
        return channel

    @transaction.atomic
    def update(self, instance, validated_data):
        keys = validated_data.pop("keys", None)
        groups = validated_data.pop("groups", None)
        new_status = validated_data.pop("status", instance.status)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        instance.save()  # the post_save signal rebuilds routing
        if new_status != instance.status:
            # The status service stores the reason, logs and notifies like the admin does.
            set_channel_status(instance, new_status, _("changed by %(user)s")
                               % {"user": self._requester_name()})
        if groups is not None:
            instance.groups.set(groups)
        if keys is not None:
            replace_keys(instance, keys)
        return instance

    def _requester_name(self) -> str:
        request = self.context.get("request")
        return request.user.username if request else self.context.get("actor", "?")


def replace_keys(channel: Channel, keys: list[str]) -> None:
    """Make the channel's keys exactly `keys`: unchanged keys keep their status and
    history, missing ones are deleted, new ones added. Rebuilds routing once."""
    existing = {k.key: k for k in channel.keys.all()}
    ChannelKey.objects.filter(pk__in=[k.pk for v, k in existing.items() if v not in keys]).delete()
    ChannelKey.objects.bulk_create(
        ChannelKey(channel=channel, key=k) for k in keys if k not in existing
    )
    rebuild_routing(channel)
