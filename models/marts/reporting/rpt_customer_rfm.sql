-- Grain: one real customer with at least one sale invoice. Recency, frequency and monetary
-- value as of the day after the last invoice in the data, each scored 1 (low) to 5 (high)
-- by percentile, so customers with equal values always get equal scores.

with

invoices as (

    select * from {{ ref('fct_invoices') }}

),

as_of as (

    select
        cast({{ dbt.dateadd('day', 1, 'max(invoice_date)') }} as date) as as_of_date
    from invoices

),

customer_invoices as (

    select
        customer_id,
        max(case when invoice_type = 'sale' then invoice_date end) as last_order_date,
        count(case when invoice_type = 'sale' then invoice_no end) as frequency,
        sum(net_amount) as monetary
    from invoices
    where customer_id is not null
    group by customer_id

),

measured as (

    select
        customer_invoices.customer_id,
        customer_invoices.last_order_date,
        as_of.as_of_date,
        customer_invoices.frequency,
        customer_invoices.monetary,
        {{ dbt.datediff('customer_invoices.last_order_date', 'as_of.as_of_date', 'day') }}
            as recency_days
    from customer_invoices
    cross join as_of
    where customer_invoices.frequency > 0

),

scored as (

    select
        *,
        -- fewer days since the last order is better, so recency ranks descending
        least(5, 1 + floor(5 * percent_rank() over (order by recency_days desc)))
            as recency_score,
        least(5, 1 + floor(5 * percent_rank() over (order by frequency)))
            as frequency_score,
        least(5, 1 + floor(5 * percent_rank() over (order by monetary)))
            as monetary_score
    from measured

),

segmented as (

    select
        *,
        case
            when recency_score >= 4 and frequency_score >= 4 and monetary_score >= 4
                then 'champion'
            when recency_score >= 3 and frequency_score >= 4 then 'loyal'
            when recency_score >= 4 and frequency_score <= 2 then 'new'
            when recency_score <= 2 and frequency_score >= 3 then 'at_risk'
            when recency_score <= 2 then 'lost'
            else 'regular'
        end as rfm_segment
    from scored

),

final as (

    select
        -- ids
        cast(customer_id as varchar) as customer_id,

        -- text
        cast(rfm_segment as varchar) as rfm_segment,

        -- numbers
        cast(recency_days as integer) as recency_days,
        cast(frequency as integer) as frequency,
        cast(monetary as decimal(18, 3)) as monetary,
        cast(recency_score as integer) as recency_score,
        cast(frequency_score as integer) as frequency_score,
        cast(monetary_score as integer) as monetary_score,

        -- dates
        cast(last_order_date as date) as last_order_date,
        cast(as_of_date as date) as as_of_date

    from segmented

)

select * from final
