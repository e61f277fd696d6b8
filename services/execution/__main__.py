"""`python -m services.execution`: run it with the config from V6_CONFIG and the environment."""

from services.execution import SERVICE
from shared.service import main

if __name__ == "__main__":
    raise SystemExit(main(SERVICE))
