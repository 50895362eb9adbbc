"""What BI users see: the offline HTML dashboard and its PNGs, the Tableau Hyper extract and
data source, and the QuickSight definitions. Every figure is read from the dbt marts."""
