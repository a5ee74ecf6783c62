"""The web dashboard, served by the API app (``api/app.py`` includes ``routes.router``).

``data.py`` builds each page's dict from the state (pure), ``routes.py`` renders it with the Jinja2
templates in ``templates/`` or returns it as JSON (``?format=json``), ``filters.py`` formats amounts
for display, and ``static/`` holds the stylesheet, the page script and the vendored Chart.js
(4.6.1, MIT; ``static/chart.js.LICENSE.md``).
"""
