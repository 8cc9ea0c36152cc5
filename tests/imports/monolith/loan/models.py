"""The monolith's loan: float money, a status string, dates, and simple-history's HistoricalLoan."""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class Loan(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="loans")
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="granted"
    )
    principal = models.FloatField()
    interest = models.FloatField()
    emi = models.FloatField()
    amount = models.FloatField()
    months = models.IntegerField()
    status = models.CharField(max_length=20, default="NEW")
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()
