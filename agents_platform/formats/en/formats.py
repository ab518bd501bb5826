"""Date formats of the English locale, to the second: the admin shows when events happened, not just the minute.

Django's own ``en`` formats stop at minutes; only the names below are
overridden, the rest of the locale stays Django's.
https://docs.djangoproject.com/en/5.2/topics/i18n/formatting/#creating-custom-format-files
"""

DATETIME_FORMAT = "N j, Y, H:i:s"
SHORT_DATETIME_FORMAT = "Y-m-d H:i:s"
TIME_FORMAT = "H:i:s"
