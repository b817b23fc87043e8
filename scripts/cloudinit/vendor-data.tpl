{%- if config_get("cloud-init.vendor-data", "") != "" -%}
{{ config_get("cloud-init.vendor-data", "") }}
{%- else -%}
{{ config_get("user.vendor-data", properties.default) }}
{%- endif %}
