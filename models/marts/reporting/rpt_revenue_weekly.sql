-- Grain: one week (period_start, the first day of the week; weeks start on Monday).
-- The SQL lives in macros/revenue.sql so the three period reports cannot drift apart.

{{ revenue_by_period('week') }}
