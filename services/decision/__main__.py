"""`python -m services.decision`: run it with the config from V6_CONFIG and the environment."""

from services.decision import SERVICE
from shared.service import main

if __name__ == "__main__":
    raise SystemExit(main(SERVICE))
