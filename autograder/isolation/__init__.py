"""Running student code in isolated processes. One file per process role or concern:

* :mod:`~autograder.isolation.sandbox`: the grader's side of one student process (start, call, read);
* :mod:`~autograder.isolation.control`: handles, killing and reading untrusted files (grader side);
* :mod:`~autograder.isolation.template_client`: the grader's side of the template processes;
* :mod:`~autograder.isolation.template_server`: the origin (forked from the grader before it reads any
  secret) and the templates it forks, which fork the student processes;
* :mod:`~autograder.isolation.student`: the student process (loads a notebook, forks one child per call);
* :mod:`~autograder.isolation.linux`: namespaces, privileges, rlimits (Linux specifics);
* :mod:`~autograder.isolation.userns`: the same without root, in a user namespace;
* :mod:`~autograder.isolation.view`: what student code may see (the default-deny view), in one place;
* :mod:`~autograder.isolation.mounts`: that view mounted as the student process's root;
* :mod:`~autograder.isolation.availability`: which isolation this machine offers, and the refusal;
* :mod:`~autograder.isolation.uids`: unprivileged uids leased to student processes (root only);
* :mod:`~autograder.isolation.syscalls`: raw system calls and constants;
* :mod:`~autograder.isolation.protocol`: the typed messages between the processes and their codec.
"""
