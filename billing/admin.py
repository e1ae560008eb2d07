from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "role", "status", "group", "quota", "used_quota")
    list_filter = ("role", "status", "group")
    list_select_related = ("group",)
