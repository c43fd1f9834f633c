"""Deterministic demo data: one fictional account ("Acme") with vacancies and applicants.

Everything comes from `random.Random(seed)` and dates count from a fixed epoch, so the same
seed always gives the same data and a different seed gives different data. The shape is fixed
on purpose (which vacancy is draft, which has no location, ...) so every seed covers the same
edge cases; names, ids, dates and texts vary with the seed.
"""

from __future__ import annotations

import random
import string
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sandbox.records import (
    JobApplication,
    Location,
    Note,
    SalaryIndication,
    StoredFile,
    Vacancy,
    VacancyStatus,
)

SEED_EPOCH = datetime(2023, 1, 2, 8, 0, tzinfo=UTC)
APPLICATION_COUNT = 280
ID_ALPHABET = string.ascii_letters + string.digits

# One status per vacancy, in creation order: all four statuses, public the most common.
VACANCY_STATUS_PATTERN: tuple[VacancyStatus, ...] = (
    "public", "public", "private", "closed", "public", "draft", "public", "private",
    "closed", "public", "public", "draft", "private", "closed", "public", "draft",
)  # fmt: skip
NO_STAGES_VACANCY_INDEX = 15  # the last draft has no pipeline yet

STAGE_PIPELINES: tuple[tuple[str, ...], ...] = (
    ("New", "Interview", "Offer", "Hired"),
    ("Applied", "Phone screen", "Technical interview", "Final interview", "Offer", "Hired"),
    ("Sourced", "First call", "Case interview", "Hired"),
)
HIRED_STAGE = "hired"

VACANCY_TITLES: tuple[tuple[str, str], ...] = (
    ("Senior Product Designer", "Design"),
    ("Backend Engineer (Python)", "Engineering"),
    ("Frontend Developer", "Engineering"),
    ("Customer Success Manager", "Customer Success"),
    ("Account Executive Benelux", "Sales"),
    ("Marketing Intern", "Marketing"),
    ("Head of People", "People"),
    ("Data Analyst", "Data"),
    ("Office Manager", "Operations"),
    ("Content Marketeer", "Marketing"),
    ("DevOps Engineer", "Engineering"),
    ("Sales Development Representative", "Sales"),
    ("UX Researcher", "Design"),
    ("Finance Controller", "Finance"),
    ("Support Specialist (Dutch speaking)", "Customer Success"),
    ("Engineering Manager", "Engineering"),
    ("Summer Barista", "Operations"),
    ("Mobile Developer (iOS)", "Engineering"),
    ("Recruiter", "People"),
    ("Product Manager", "Product"),
)
VACANCY_TYPES: tuple[str, ...] = (
    "Full-time", "Full-time", "Part-time", "Full-time / Part-time", "Contracted", "Internship",
    "Seasonal", "Temporary", "Traineeship", "Volunteer",
)  # fmt: skip
OFFICES: tuple[Location, ...] = (
    Location("Amsterdam HQ", "The Netherlands", "Keizersgracht 1", "1015 AA", "Amsterdam",
             "Noord-Holland"),
    Location("Rotterdam office", "The Netherlands", "Coolsingel 40", "3011 AD", "Rotterdam",
             "Zuid-Holland"),
    Location("Berlin", "Germany", "Torstraße 109", "10119", "Berlin", "Berlin"),
    Location("London", "United Kingdom", "1 Finsbury Avenue", "EC2M 2PF", "London", None),
    Location("Utrecht hub", "NL", None, None, "Utrecht", None),
)  # fmt: skip

FIRST_NAMES: tuple[str, ...] = (
    "Sanne", "Daan", "Emma", "Lucas", "Julia", "Sem", "Tess", "Noah", "Fleur", "Milan", "Anouk",
    "Bram", "Priya", "Mohammed", "Sofia", "Ahmed", "Zoë", "Jesse", "Chloé", "Ruben", "Lotte",
    "Thijs", "Fatima", "Lars", "Ingrid", "Mateo", "Olivia", "Kenji", "Amara", "Björn",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Bos",
    "Vos", "Peters", "Hendriks", "van Dijk", "Yılmaz", "El Amrani", "Schmidt", "Müller",
    "García", "Rossi", "Nakamura", "O'Brien", "Okafor", "Andersson", "Kowalski", "Dubois",
)  # fmt: skip
HOMES: tuple[tuple[str, str], ...] = (
    ("Amsterdam", "The Netherlands"), ("Rotterdam", "The Netherlands"),
    ("Utrecht", "The Netherlands"), ("Den Haag", "The Netherlands"),
    ("Eindhoven", "The Netherlands"), ("Antwerpen", "Belgium"), ("Berlin", "Germany"),
    ("London", "United Kingdom"), ("Lisbon", "Portugal"),
)  # fmt: skip
EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.org", "example.net")
SOURCES: tuple[str, ...] = (
    "Homerun Career Page", "Homerun Career Page", "LinkedIn", "Indeed", "Referral",
    "Glassdoor", "Werkzoeken.nl",
)  # fmt: skip
TEAM_MEMBERS: tuple[str, ...] = ("Ted", "Sanne", "Priya", "Mark", "Lotte")
NOTE_TEXTS: tuple[str, ...] = (
    "Excellent candidate, interview scheduled for Monday.",
    "Strong portfolio. Asked for two references.",
    "Salary expectation is above the band for this role.",
    "Phone screen went well, clear communicator.",
    "Not a match for this role, but keep in the talent pool.",
    "Prefers to start after the summer.",
    "Discussed the case study; solid reasoning on trade-offs.",
)
SENSITIVE_NOTE_TEXTS: tuple[str, ...] = (
    "Mentioned a medical condition; needs an adjusted interview schedule.",
    "Currently employed by a client of ours; handle with discretion.",
)
EDUCATION_TEXTS: tuple[str, ...] = (
    "BSc Computer Science, TU Delft",
    "MA Communication and Information Sciences, Tilburg University",
    "MBO Marketing & Communicatie",
    "BBA International Business, Erasmus University Rotterdam",
)
EXPERIENCE_TEXTS: tuple[str, ...] = (
    "4 years at a SaaS scale-up, most recently as team lead.",
    "Freelance since 2019, clients in retail and publishing.",
    "Two internships and a graduation project on onboarding flows.",
    "8 years in hospitality before switching careers.",
)
PRONOUNS: tuple[str, ...] = ("she/her", "he/him", "they/them")


@dataclass
class SeedData:
    vacancies: list[Vacancy]
    applications: list[JobApplication]


def random_id(rng: random.Random, prefix: str) -> str:
    """An id like the real ones: a prefix and 20 alphanumeric characters."""
    return prefix + "".join(rng.choices(ID_ALPHABET, k=20))


def add_years(moment: datetime, years: int) -> datetime:
    """Same calendar day `years` later; 29 February becomes 28 February."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = "".join(ch if ch.isalnum() else " " for ch in ascii_text.lower()).split()
    return "-".join(words)


def generate_seed_data(seed: int) -> SeedData:
    rng = random.Random(seed)
    titles = rng.sample(VACANCY_TITLES, len(VACANCY_STATUS_PATTERN))
    vacancies = [_make_vacancy(rng, index, *titles[index]) for index in range(len(titles))]
    applications = _make_applications(rng, vacancies)
    return SeedData(vacancies=vacancies, applications=applications)


def _make_vacancy(rng: random.Random, index: int, title: str, department: str) -> Vacancy:
    status = VACANCY_STATUS_PATTERN[index]
    slug = f"{slugify(title)}-{index + 1}"
    created_at = SEED_EPOCH + timedelta(
        days=index * 19 + rng.randrange(15), minutes=rng.randrange(600)
    )
    remote = index % 4 == 3
    location = None if remote else rng.choice(OFFICES)
    expires_at: datetime | None = None
    if status == "closed":
        expires_at = created_at + timedelta(days=rng.randrange(30, 90))
    elif index % 3 == 1:
        expires_at = created_at + timedelta(days=rng.randrange(120, 720))
    salary = None
    if index % 2 == 0:
        low = rng.randrange(30, 80) * 1000
        salary = SalaryIndication(
            currency="eur",
            salary_value=f"{low}.00",
            max_salary_value=f"{low + rng.randrange(5, 25) * 1000}.00" if index % 4 == 0 else None,
            time_period="year",
            experience_level=rng.choice(("entry", "medior", "senior")),
        )
    return Vacancy(
        id=random_id(rng, "job_"),
        title=title,
        description=(
            f"<p>Join the {department} team at Acme as our new {title}.</p>"
            f"<p>{rng.choice(NOTE_TEXTS[:2])}</p>"
        ),
        application_form_url=f"https://acme.homerun.co/{slug}/en/apply",
        job_url=f"https://acme.homerun.co/{slug}/en",
        share_image_url=f"https://acme.homerun.co/share/{slug}.png" if index % 3 == 0 else None,
        status=status,
        type=None if index % 6 == 5 else rng.choice(VACANCY_TYPES),
        expires_at=expires_at,
        # One vacancy predates location_type and carries neither flag.
        is_remote=None if index == 10 else remote,
        location_type=None if index == 10 else ("remote" if remote else "on-site"),
        location=location,
        department=None if index % 5 == 4 else department,
        stages=[] if index == NO_STAGES_VACANCY_INDEX else list(STAGE_PIPELINES[index % 3]),
        created_at=created_at,
        page_content=None if index % 4 == 2 else f"<h2>About the role</h2><p>{title}</p>",
        salary_indication=salary,
    )


def _make_applications(rng: random.Random, vacancies: list[Vacancy]) -> list[JobApplication]:
    # Drafts receive no applicants; closed vacancies keep the ones they had.
    candidates = [vacancy for vacancy in vacancies if vacancy.status != "draft" and vacancy.stages]
    span_seconds = int(timedelta(days=700).total_seconds())
    step = span_seconds // APPLICATION_COUNT
    used_ids: set[str] = set()
    applications = []
    for index in range(APPLICATION_COUNT):
        created_at = SEED_EPOCH + timedelta(days=3, seconds=index * step + rng.randrange(step))
        open_then = [vacancy for vacancy in candidates if vacancy.created_at <= created_at]
        in_talent_pool = index % 12 == 7 or not open_then or rng.random() < 0.04
        vacancy = None if in_talent_pool else rng.choice(open_then)
        application_id = random_id(rng, "ap_")
        while application_id in used_ids:
            application_id = random_id(rng, "ap_")
        used_ids.add(application_id)
        applications.append(_make_application(rng, application_id, vacancy, created_at))
    return applications


def _make_application(
    rng: random.Random, application_id: str, vacancy: Vacancy | None, created_at: datetime
) -> JobApplication:
    first_name = rng.choice(FIRST_NAMES)
    last_name = rng.choice(LAST_NAMES)
    person_slug = slugify(f"{first_name} {last_name}")
    stage = None
    hired_at = None
    if vacancy is not None:
        # Early stages hold most applicants, as in a real funnel.
        weights = [len(vacancy.stages) - position for position in range(len(vacancy.stages))]
        stage = rng.choices(vacancy.stages, weights=weights)[0]
        if stage.casefold() == HIRED_STAGE:
            hired_at = created_at + timedelta(days=rng.randrange(7, 60), hours=rng.randrange(9))
    votes = 0 if rng.random() < 0.4 else rng.randrange(1, 6)
    rating = round(sum(rng.randrange(1, 6) for _ in range(votes)) / votes * 2) / 2 if votes else 0.0
    sourced = rng.random() < 0.2
    home = rng.choice(HOMES) if rng.random() < 0.85 else None
    application = JobApplication(
        id=application_id,
        vacancy_id=vacancy.id if vacancy else None,
        stage=stage,
        created_at=created_at,
        retention_period_ends_at=add_years(created_at, 2),
        first_name=first_name,
        last_name=last_name,
        email=_email(rng, person_slug),
        rating=rating,
        total_votes=votes,
        sourced=sourced,
        disqualified=hired_at is None and rng.random() < 0.12,
        hired_at=hired_at,
        first_reply_at=(
            created_at + timedelta(hours=rng.randrange(2, 120)) if rng.random() < 0.6 else None
        ),
        city=home[0] if home else None,
        country=home[1] if home and rng.random() < 0.9 else None,
        date_of_birth=_birth_date(rng) if rng.random() < 0.7 else None,
        phone_number=_phone_number(rng) if rng.random() < 0.75 else None,
    )
    _add_profile(rng, application, person_slug)
    _add_sources(rng, application)
    _add_notes(rng, application)
    _add_files(rng, application, person_slug)
    return application


def _email(rng: random.Random, person_slug: str) -> str:
    local = person_slug.replace("-", ".")
    if rng.random() < 0.5:
        local += str(rng.randrange(1, 99))
    return f"{local}@{rng.choice(EMAIL_DOMAINS)}"


def _birth_date(rng: random.Random) -> date:
    return date(1965, 1, 1) + timedelta(days=rng.randrange(365 * 38))


def _phone_number(rng: random.Random) -> str:
    digits = "".join(rng.choices(string.digits, k=8))
    return f"06-{digits}" if rng.random() < 0.6 else f"+31 6 {digits[:4]} {digits[4:]}"


def _add_profile(rng: random.Random, application: JobApplication, person_slug: str) -> None:
    if rng.random() < 0.4:
        application.education = rng.choice(EDUCATION_TEXTS)
    if rng.random() < 0.4:
        application.experience = rng.choice(EXPERIENCE_TEXTS)
    if rng.random() < 0.5:
        application.linkedin = f"https://www.linkedin.com/in/{person_slug}"
    if rng.random() < 0.15:
        application.github = f"https://github.com/{person_slug.replace('-', '')}"
    if rng.random() < 0.1:
        application.website = f"https://{person_slug}.example.com"
    if rng.random() < 0.1:
        application.twitter = f"https://twitter.com/{person_slug.replace('-', '_')}"
    if rng.random() < 0.05:
        application.facebook = f"https://www.facebook.com/{person_slug}"
    if rng.random() < 0.2:
        application.pronouns = rng.choice(PRONOUNS)
    if rng.random() < 0.05:
        application.skype = f"live:{person_slug}"
    if rng.random() < 0.1:
        application.assignment = "See the attached case; I focused on the onboarding funnel."
    if rng.random() < 0.35:
        application.custom_data = {"internal_id": f"hr-{rng.randrange(1000, 9999)}"}
        if rng.random() < 0.5:
            application.custom_data["driving_licence"] = rng.choice(("yes", "no"))
        if rng.random() < 0.3:
            application.custom_data["notice_period"] = rng.choice(("none", "1 month", "2 months"))


def _add_sources(rng: random.Random, application: JobApplication) -> None:
    if application.sourced:
        application.sources = ["LinkedIn"] if rng.random() < 0.7 else ["Sourced by recruiter"]
    elif rng.random() < 0.85:
        application.sources = sorted(set(rng.choices(SOURCES, k=rng.randrange(1, 3))))


def _add_notes(rng: random.Random, application: JobApplication) -> None:
    if rng.random() >= 0.6:
        return
    moment = application.created_at
    for _ in range(rng.randrange(1, 5)):
        moment += timedelta(hours=rng.randrange(1, 72), minutes=rng.randrange(60))
        sensitive = rng.random() < 0.15
        text = rng.choice(SENSITIVE_NOTE_TEXTS if sensitive else NOTE_TEXTS)
        application.notes.append(
            Note(
                note=text,
                display_name=rng.choice(TEAM_MEMBERS),
                is_sensitive=sensitive,
                created_at=moment,
                updated_at=moment + timedelta(minutes=rng.randrange(30)) if sensitive else moment,
            )
        )


def _add_files(rng: random.Random, application: JobApplication, person_slug: str) -> None:
    if rng.random() < 0.25:
        application.files.append(
            StoredFile(
                name=f"{person_slug}-cv.pdf",
                type="resume",
                content=_fake_pdf(
                    rng, f"Resume of {application.first_name} {application.last_name}"
                ),
                content_type="application/pdf",
            )
        )
    if rng.random() < 0.08:
        application.files.append(
            StoredFile(
                name=f"assignment-{person_slug}.pdf",
                type="assignment",
                content=_fake_pdf(rng, f"Assignment by {application.first_name}"),
                content_type="application/pdf",
            )
        )


def _fake_pdf(rng: random.Random, title: str) -> bytes:
    filler = bytes(rng.randrange(256) for _ in range(rng.randrange(64, 256)))
    return b"%PDF-1.4\n% " + title.encode() + b"\n" + filler + b"\n%%EOF\n"
