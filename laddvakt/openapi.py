"""Prints the fleet API's OpenAPI document (`make openapi` writes it to docs/openapi.json)."""

from shared.fleet_api import openapi_json

if __name__ == "__main__":
    print(openapi_json())
