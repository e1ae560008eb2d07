"""Serializers for billing models: users, groups, tokens, prices, redemptions, logs."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from billing import roles, token_policy
from billing.models import (
    QUOTA_MAX,
    Group,
    Log,
    Price,
    Redemption,
    RedemptionStatus,
    Token,
    User,
)
from billing.models.tokens import validate_networks

from .permissions import is_staff

DECIMAL = {"max_digits": 14, "decimal_places": 6, "coerce_to_string": False}


def django_errors(exc: DjangoValidationError) -> serializers.ValidationError:
    """A model's full_clean() failure as DRF field errors."""
    if hasattr(exc, "error_dict"):
        return serializers.ValidationError(exc.message_dict)
    return serializers.ValidationError(exc.messages)


def _requester(serializer):
    request = serializer.context.get("request")
    return request.user if request else None


def _restricted(serializer) -> bool:
    """True when serving a non-staff user (schema generation has no user: show all)."""
    user = _requester(serializer)
    return user is not None and user.is_authenticated and not is_staff(user)


class GroupSerializer(serializers.ModelSerializer):
    ratio = serializers.DecimalField(max_digits=10, decimal_places=4, min_value=0,
                                     coerce_to_string=False, required=False)

    class Meta:
        model = Group
        fields = ["id", "name", "ratio", "description"]


class UserSerializer(serializers.ModelSerializer):
    group = serializers.SlugRelatedField(
        slug_field="name", queryset=Group.objects.all(), required=False
    )
    password = serializers.CharField(
        write_only=True, required=False, style={"input_type": "password"}
    )
    current_password = serializers.CharField(
        write_only=True, required=False, style={"input_type": "password"},
        help_text=_("Needed to change your own password."),
    )
    quota = serializers.IntegerField(
        required=False, min_value=0, max_value=QUOTA_MAX,
        help_text=_("Initial balance on create; change it later with the topup action."),
    )

    class Meta:
        model = User
        fields = ["id", "username", "display_name", "email", "role", "status", "group",
                  "quota", "used_quota", "request_count", "password", "current_password",
                  "date_joined", "last_seen"]
        read_only_fields = ["used_quota", "request_count", "date_joined", "last_seen"]

    def validate_password(self, value):
        try:
            validate_password(value, self.instance)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return value

    def validate(self, attrs):
        if self.instance is not None and "quota" in attrs:
            raise serializers.ValidationError(
                {"quota": [_("Use POST /api/users/{id}/topup/ to change a balance.")]}
            )
        requester = _requester(self)
        self._check_current_password(requester, attrs)
        # Who may touch which account is checked by the view (ManagesAccount); which role
        # an account may be given is checked here, so it is an error on the field.
        if requester is not None and attrs.get("role") not in (
            None, *roles.assignable_roles(requester)
        ):
            raise serializers.ValidationError(
                {"role": [_("Only root gives the admin or root role.")]}
            )
        return attrs

    def _check_current_password(self, requester, attrs) -> None:
        """Your own password changes only with the current one: a leaked access token
        must not become a password to the admin site."""
        current = attrs.pop("current_password", None)
        own = self.instance is not None and requester is not None
        if not (own and self.instance.pk == requester.pk and "password" in attrs):
            return
        if not current or not self.instance.check_password(current):
            raise serializers.ValidationError(
                {"current_password": [_("Enter your current password to change it.")]}
            )

    def create(self, validated_data):
        password = validated_data.pop("password", None)
        user = User(**validated_data)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        return user

    def update(self, instance, validated_data):
        password = validated_data.pop("password", None)
        if password:
            instance.set_password(password)
        return super().update(instance, validated_data)


class TokenSerializer(serializers.ModelSerializer):
    user = serializers.PrimaryKeyRelatedField(queryset=User.objects.all(), required=False)
    allowed_models = serializers.ListField(child=serializers.CharField(), required=False)
    subnets = serializers.ListField(child=serializers.CharField(), required=False)

    class Meta:
        model = Token
        fields = ["id", "user", "name", "key_prefix", "status", "expires_at", "remain_quota",
                  "unlimited_quota", "used_quota", "allowed_models", "subnets", "rpm_limit",
                  "tpm_limit", "max_concurrency", "ceilings", "created_at", "last_used_at"]
        read_only_fields = ["key_prefix", "used_quota", "ceilings", "created_at",
                            "last_used_at"]

    def get_fields(self):
        fields = super().get_fields()
        if _restricted(self):
            fields["user"].read_only = True  # users create and manage their own tokens only
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            fields["user"].read_only = True  # moving a token between owners is not a thing
        return fields

    def validate_subnets(self, value):
        try:
            validate_networks(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return value

    def validate_remain_quota(self, value):
        if value < 0:
            raise serializers.ValidationError(_("Quota cannot be negative."))
        return value

    def validate(self, attrs):
        """The owner may not loosen an operator's ceilings; an operator's edit of someone
        else's token sets them (billing/token_policy.py)."""
        attrs = super().validate(attrs)
        editor = _requester(self)
        if editor is None:
            return attrs
        token = self.instance if isinstance(self.instance, Token) else None
        owner_id = token.user_id if token else (attrs.get("user") or editor).pk
        if token is not None and editor.pk == owner_id:
            errors = token_policy.loosened(token, attrs)
            if errors:
                raise serializers.ValidationError({k: [v] for k, v in errors.items()})
        elif token_policy.sets_ceilings(editor, owner_id):
            values = {**token_policy.current_values(token), **attrs}
            attrs["ceilings"] = token_policy.ceilings_after(
                token.ceilings if token else {}, values, attrs
            )
        return attrs

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        try:
            instance.full_clean()
        except DjangoValidationError as exc:
            raise django_errors(exc) from None
        instance.save()
        return instance


class TokenWithKeySerializer(TokenSerializer):
    """Only the create and regenerate responses carry the full key."""

    key = serializers.CharField(read_only=True, help_text=_("Shown once; store it now."))

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "key"]


class PriceSerializer(serializers.ModelSerializer):
    input_price = serializers.DecimalField(**DECIMAL, min_value=0, required=False, allow_null=True)
    output_price = serializers.DecimalField(**DECIMAL, min_value=0, required=False, allow_null=True)
    cached_input_price = serializers.DecimalField(
        **DECIMAL, min_value=0, required=False, allow_null=True
    )
    per_request_price = serializers.DecimalField(
        **DECIMAL, min_value=0, required=False, allow_null=True
    )

    class Meta:
        model = Price
        fields = ["id", "model", "input_price", "output_price", "cached_input_price",
                  "per_request_price", "provider", "updated_at"]
        read_only_fields = ["updated_at"]

    def validate(self, attrs):
        def value(name):
            return attrs[name] if name in attrs else getattr(self.instance, name, None)

        if value("input_price") is None and value("per_request_price") is None:
            raise serializers.ValidationError(
                {"input_price": [_("Set token prices, a per-request price, or both.")]}
            )
        return attrs


class RedemptionSerializer(serializers.ModelSerializer):
    code = serializers.CharField(required=False, max_length=64,
                                 help_text=_("Leave out to generate a random code."))

    class Meta:
        model = Redemption
        fields = ["id", "code", "name", "quota", "status", "created_by", "created_at",
                  "redeemed_by", "redeemed_at"]
        read_only_fields = ["created_by", "created_at", "redeemed_by", "redeemed_at"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            fields["code"].read_only = True
        return fields

    def validate_code(self, value):
        if Redemption.objects.filter(code=value.strip()).exists():
            raise serializers.ValidationError(_("A redemption code with this code exists."))
        return value.strip()

    def validate_status(self, value):
        if value == RedemptionStatus.USED:
            raise serializers.ValidationError(_("Codes become used only by being redeemed."))
        if self.instance is not None and self.instance.status == RedemptionStatus.USED:
            raise serializers.ValidationError(_("This code has already been used."))
        return value


class RedemptionBatchSerializer(serializers.Serializer):
    count = serializers.IntegerField(min_value=1, max_value=1000)
    quota = serializers.IntegerField(min_value=1, max_value=QUOTA_MAX)
    name = serializers.CharField(max_length=64, required=False, default="")


class LogSerializer(serializers.ModelSerializer):
    class Meta:
        model = Log
        fields = ["id", "created_at", "type", "user", "username", "token", "token_name",
                  "channel", "model", "group_name", "prompt_tokens", "completion_tokens",
                  "cached_tokens", "quota", "price", "is_stream", "elapsed_ms", "ttfb_ms",
                  "request_id", "client_ip", "status_code", "error", "channels_tried", "content"]
        read_only_fields = fields

    def get_fields(self):
        fields = super().get_fields()
        if _restricted(self):
            # Which upstream served a request is the operator's business.
            for name in ("channel", "channels_tried"):
                fields.pop(name)
        return fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if "content" in data:
            data["content"] = instance.content_for(operator=not _restricted(self))
        return data
