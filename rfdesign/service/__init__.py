"""The solver service: ``rfdesign serve``, an HTTP API and a design-assistant web page (extra ``[serve]``).

* :mod:`~rfdesign.service.app`: the FastAPI app (routes in :mod:`~rfdesign.service.api_commands` and
  :mod:`~rfdesign.service.api_jobs`, models in :mod:`~rfdesign.service.models`);
* :mod:`~rfdesign.service.jobs`: the queue and the pool of worker processes (:mod:`~rfdesign.service.worker`);
* :mod:`~rfdesign.service.store`: jobs and results in SQLite;
* :mod:`~rfdesign.service.run`: binding the socket and running uvicorn;
* ``static/``: the web page (plain HTML, CSS and JavaScript, no build step).

docs/service.md describes the endpoints, jobs, persistence and security. The
client is :mod:`rfdesign.client`.
"""
