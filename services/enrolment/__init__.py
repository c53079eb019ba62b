"""Enrolment: the directory, programs and their lifecycle, quotas, enrolments, attendance."""
