"""Feast objects: the customer entity, the feature table source, its views and the model's service.

The training pipeline and the serving code both ask for the `fraud_model_v1` feature service, so
they always get the same features. The views take their fields from the feature names in
src/{{ cookiecutter.package_name }}/features/build.py, so a new feature is named there only.
"""

from datetime import timedelta
{% if cookiecutter.offline_store == "spark" %}
from feast import Entity, FeatureService, FeatureView, Field, ValueType
from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import SparkSource
{%- else %}
from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
{%- endif %}
from feast.types import Float64, String

from {{ cookiecutter.package_name }}.data.contract import TIME
from {{ cookiecutter.package_name }}.data.files import DataFiles
from {{ cookiecutter.package_name }}.features.build import PROFILE_FEATURES, window_features
{%- if cookiecutter.offline_store == "spark" %}
from {{ cookiecutter.package_name }}.features.spark_engine import quiet_spark_notes
{%- endif %}
from {{ cookiecutter.package_name }}.settings import load_settings

# Feast's type for each Python type that features/build.py gives a feature.
FEAST_TYPES = {float: Float64, str: String}

settings = load_settings()
{%- if cookiecutter.offline_store == "spark" %}
quiet_spark_notes()
{%- endif %}
ttl = timedelta(days=settings.features.ttl_days)

customer = Entity(
    name="customer",
    join_keys=["customer_id"],
    value_type=ValueType.INT64,
    description="A card holder.",
)

{% if cookiecutter.offline_store == "spark" -%}
customer_features_source = SparkSource(
    name="customer_features",
    path=str(DataFiles.of(settings).features),
    file_format="parquet",
{%- else -%}
customer_features_source = FileSource(
    name="customer_features",
    path=str(DataFiles.of(settings).features),
{%- endif %}
    timestamp_field=TIME,
    created_timestamp_column="created",
    description="Customer state after each transaction (DVC stage `features`).",
)

customer_activity = FeatureView(
    name="customer_activity",
    entities=[customer],
    ttl=ttl,
    schema=[
        Field(name=name, dtype=Float64) for name in window_features(settings.features.windows_hours)
    ],
    source=customer_features_source,
    description="Transaction counts and amount sums over sliding windows.",
)

customer_profile = FeatureView(
    name="customer_profile",
    entities=[customer],
    ttl=ttl,
    schema=[Field(name=name, dtype=FEAST_TYPES[kind]) for name, kind in PROFILE_FEATURES.items()],
    source=customer_features_source,
    description="Long-run spending habits of the customer.",
)

fraud_model_v1 = FeatureService(
    name=settings.feast.feature_service,
    features=[customer_activity, customer_profile],
    description="Every customer feature the fraud model reads, at training and at serving time.",
)
