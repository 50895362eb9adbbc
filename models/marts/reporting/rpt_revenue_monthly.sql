-- Grain: one month (period_start, the first day of the month).
-- The SQL lives in macros/revenue.sql so the three period reports cannot drift apart.

{{ revenue_by_period('month') }}
