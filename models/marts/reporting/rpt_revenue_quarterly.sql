-- Grain: one quarter (period_start, the first day of the quarter).
-- The SQL lives in macros/revenue.sql so the three period reports cannot drift apart.

{{ revenue_by_period('quarter') }}
