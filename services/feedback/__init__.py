"""Feedback: ratings, assessments, deadlines, follow-ups and institution scorecards."""
