"""Site settings for the OneDep application's tools when msgmig's tests run them.

`wwpdb.utils.config.ConfigInfoData` imports a module of this name when one is on PYTHONPATH and
takes its configuration dictionary (the application's own hook for cached site settings). This
one hands over the `SITE_*` variables of the environment, so a test can point the application's
`dump_db_to_cif.py` at its database (SITE_MESSAGE_DB_HOST_NAME, _PORT_NUMBER, _USER_NAME,
_PASSWORD, _NAME) without a site configuration.
"""
import os


class ConfigInfoFileCache:
    def getConfigDictionary(self, siteId=None):  # noqa: N802 (the application's name)
        return {k: v for k, v in os.environ.items() if k.startswith("SITE_")}
