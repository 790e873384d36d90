"""The Universal Category System (UCS): CatIDs, their category/subcategory words, file names.

UCS file names read ``CatID[-UserCategory]_FXName_CreatorID_SourceID[_UserData]``, e.g.
``DOORWood_Front Door Slam_ABC_XYZ.wav``. The table below maps each CatID to its category and
subcategory. It was reconstructed from the CatID -> ``\\CATSHORT\\SUBCATEGORY`` table in the public
REAPER script "Render Items To UCS Folders" (github.com/Sonorityscape/ReaScripts, Daniel Petras),
with the long category names (AMBIENCE, DOORS, ...) of the UCS list (universalcategorysystem.com)
as mirrored in public REAPER UCS metadata scripts. Lines: ``PREFIX|CATEGORY|suffix[=SUBCATEGORY];...``
where CatID = PREFIX + suffix and a bare suffix's subcategory is the suffix in capitals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

AMBIENCE = "AMBIENCE"

_TABLE = """
AIR|AIR|Misc;Blow;Brst=BURST;Hiss;Suck=SUCTION
AERO|AIRCRAFT|Misc;Heli=HELICOPTER;Jet;Mech=MECHANISM;Mil=MILITARY;Prop;Radio=RADIO CONTROLLED;Rckt=ROCKET
ALRM|ALARMS|Misc;Bell;Buzr=BUZZER;Clok=CLOCK;Elec=ELECTRONIC;Sirn=SIREN
AMB|AMBIENCE|Misc;Amus=AMUSEMENT;Bird=BIRDSONG;Cele=CELEBRATION;Cnst=CONSTRUCTION;Dsrt=DESERT;Dsgn=DESIGNED;Emrg=EMERGENCY;Farm;Forst=FOREST;Hist=HISTORICAL;Tech=HITECH;Hosp=HOSPITAL;Ind=INDUSTRIAL;Mrkt=MARKET;Naut=NAUTICAL;Offc=OFFICE;Prisn=PRISON;Publ=PUBLIC PLACE;Rlgn=RELIGIOUS;Rest=RESTAURANT & BAR;Room=ROOM TONE;Rurl=RURAL;Schl=SCHOOL;Sea=SEASIDE;Sprt=SPORT;Subn=SUBURBAN;Swmp=SWAMP;Traf=TRAFFIC;Tran=TRANSPORTATION;Trop=TROPICAL;Undr=UNDERGROUND;Undwtr=UNDERWATER;Urbn=URBAN;War=WARFARE
ANML|ANIMALS|Misc;Amph=AMPHIBIAN;Aqua=AQUATIC;Bat;Cat=CAT DOMESTIC;Wcat=CAT WILD;Dog;Farm;Hors=HORSE;Insc=INSECT;Prim=PRIMATE;Rept=REPTILE;Rdnt=RODENT;Wild
ASSET|ARCHIVED|=ASSET
BNCE|ARCHIVED|=BOUNCE
IR|ARCHIVED|=IMPULSE RESPONSE
MIX|ARCHIVED|=MIX
PFX|ARCHIVED|=PFX
RAW|ARCHIVED|=RAW
REF|ARCHIVED|=REFERENCE
SCNE|ARCHIVED|=SCENE
TEST|ARCHIVED|=TEST TONE
TMARK|ARCHIVED|=TRADEMARKED
WIP|ARCHIVED|=WORK IN PROGRESS
WTF|ARCHIVED|=WTF
BEEP|BEEPS|=GENERAL;Appl=APPLIANCE;Lofi;Med=MEDICAL;Timer;Veh=VEHICLE
BELL|BELLS|Misc;Anml=ANIMAL;Door=DOORBELL;Gong;Hand=HANDBELL;Lrg=LARGE
BIRD|BIRDS|Misc;Prey=BIRD OF PREY;Crow;Fowl;Song=SONGBIRD;Sea;Trop=TROPICAL;Wade=WADING
BOAT|BOATS|Misc;Air=AIR BOAT;Wash=BOW WASH;Elec=ELECTRIC;Fish=FISHING;Horn;Mech=MECHANISM;Mil=MILITARY;Motr=MOTORBOAT;Race=RACING;Row=ROWBOAT;Sail=SAILBOAT;Ship;Stm=STEAM;Sub=SUBMARINE
BLLT|BULLETS|Misc;By;Impt=IMPACT;Shel=SHELL;Rico=RICOCHET
TOON|CARTOON|Misc;Boing;Clang;Creak;Horn;Impt=IMPACT;Mx=MUSICAL;Pop;Pluk=PLUCK;Shake;Splt=SPLAT;Sqk=SQUEAK;Strch=STRETCH;Swsh=SWISH;Twang;Warb=WARBLE;Whis=WHISTLE;Zip
CERM|CERAMICS|Misc;Brk=BREAK;Crsh=CRASH & DEBRIS;Fric=FRICTION;Impt=IMPACT;Mvmt=MOVEMENT;Tonl=TONAL
CHAIN|CHAINS|Misc;Brk=BREAK;Impt=IMPACT;Mvmt=MOVEMENT
CHEM|CHEMICALS|Misc;Acid;Reac=REACTION
CLOCK|CLOCKS|Misc;Mech=MECHANICS;Chim=CHIME;Tick
CLOTH|CLOTH|Misc;Flp=FLAP;Mvmt=MOVEMENT;Rip
COM|COMMUNICATIONS|Misc;Av=AUDIO VISUAL;Cam=CAMERA;Cell=CELLPHONE;Mic=MICROPHONE;Phono=PHONOGRAPH;Radio;Static;Telm=TELEMETRY;Telph=TELEPHONE;Tv=TELEVISION;Tran=TRANSCEIVER;Type=TYPEWRITER
CMPT|COMPUTERS|Misc;Driv=HARD DRIVE;Key=KEYBOARD & MOUSE
CREA|CREATURES|Misc;Aqua=AQUATIC;Beast;Blob;Dino=DINOSAUR;Drgn=DRAGON;Elem=ELEMENTAL;Ethr=ETHEREAL;Hmn=HUMANOID;Insc=INSECTOID;Mnstr=MONSTER;Rept=REPTILIAN;Small;Srce=SOURCE;Avian
CRWD|CROWDS|Misc;Angr=ANGRY;Apls=APPLAUSE;Batl=BATTLE;Cele=CELEBRATION;Cheer=CHEERING;Chld=CHILDREN;Conv=CONVERSATION;Laff=LAUGHTER;Loop=LOOP GROUP;Panic;Quiet;Reac=REACTION;Sing=SINGING;Sprt=SPORT;Walla
DSGN|DESIGNED|Misc;Bass=BASS DIVE;Boom;Bram=BRAAM;Dron=DRONE;Erie=EERIE;Ethr=ETHEREAL;Rise=RISER;Rmbl=RUMBLE;Stngr=STINGER;Synth=SYNTHETIC;Tonl=TONAL
DESTR|DESTRUCTION|Misc;Crsh=CRASH & DEBRIS;Clpse=COLLAPSE
DIRT|DIRT & SAND|Misc;Crsh=CRASH & DEBRIS;Dust;Impt=IMPACT;Mvmt=MOVEMENT
DOOR|DOORS|Misc;Antq=ANTIQUE;Appl=APPLIANCE;Cab=CABINET;Dungn=DUNGEON;Elec=ELECTRIC;Gate;Glas=GLASS;Hdwr=HARDWARE;Tech=HITECH;Hydr=HYDRAULIC & PNEUMATIC;Knck=KNOCK;Metl=METAL;Plas=PLASTIC;Prisn=PRISON;Revl=REVOLVING;Slid=SLIDING;Ston=STONE;Swng=SWINGING;Wood
DRWR|DRAWERS|Misc;Metl=METAL;Plas=PLASTIC;Wood
ELEC|ELECTRICITY|Misc;Arc;Emf=ELECTROMAGNETIC;Buzz=BUZZ & HUM;Sprk=SPARKS;Zap
EQUIP|EQUIPMENT|Misc;Bridle=BRIDLE & TACK;Tech=HITECH;Rec=RECREATIONAL;Tact=TACTICAL
EQUI|EQUIPMENT|Sprt=SPORT
EXPL|EXPLOSIONS|Misc;Real;Dsgn=DESIGNED
FART|FARTS|Misc;Real;Dsgn=DESIGNED
FGHT|FIGHT|Misc;Bf=BODYFALL;Clth=CLOTH;Grab;Impt=IMPACT
FIRE|FIRE|Misc;Burn=BURNING;Brst=BURST;Crkl=CRACKLE;Ign=IGNITE;Gas;Sizz=SIZZLE;Trch=TORCH;Whsh=WHOOSH
FRWK|FIREWORKS|Misc;Comr=COMMERCIAL;Rec=RECREATIONAL
FOLY|FOLEY|Misc;Clth=CLOTH;Feet;Hand=HANDS;Prop
FOOD|FOOD & DRINK|Misc;Cook=COOKING;Drnk=DRINKING;Eat=EATING;Gware=GLASSWARE;Ingr=INGREDIENTS;Kware=KITCHENWARE;Tware=TABLEWARE
FEET|FOOTSTEPS|Misc;Anml=ANIMAL;Crea=CREATURE;Hors=HORSE;Hmn=HUMAN
GAME|GAMES|Misc;Arcd=ARCADE;Board;Cas=CASINO;Video
GEO|GEOTHERMAL|Misc;Lava;Geyser;Mudpot=MUD POTS;Fuma=FUMAROLE
GLAS|GLASS|Misc;Brk=BREAK;Crsh=CRASH & DEBRIS;Fric=FRICTION;Impt=IMPACT;Mvmt=MOVEMENT;Tonl=TONAL
GORE|GORE|Misc;Blood;Bone;Burn;Flsh=FLESH;Ooze;Splt=SPLAT;Sqsh=SQUISH;Stab
GUN|GUNS|Misc;Antq=ANTIQUE;Artl=ARTILLERY;Auto=AUTOMATIC;Cano=CANNON;Tech=HITECH;Mech=MECHANISM;Pis=PISTOL;Rif=RIFLE;Shotg=SHOTGUN;Supr=SUPPRESSED
HORN|HORNS|Misc;Air=AIR POWERED;Cele=CELEBRATION;Trad=TRADITIONAL
HMN|HUMAN|Misc;Brth=BREATH;Burp;Cough;Hart=HEARTBEAT;Kiss;Sneez=SNEEZE;Snor=SNORE;Spit
ICE|ICE|Misc;Brk=BREAK;Crsh=CRASH & DEBRIS;Fric=FRICTION;Impt=IMPACT;Mvmt=MOVEMENT;Tonl=TONAL
LASR|LASERS|Misc;Beam;Gun;Impt=IMPACT
LETHR|LEATHER|Misc;Creak;Impt=IMPACT;Mvmt=MOVEMENT
LIQ|LIQUID & MUD|Misc;Bubl=BUBBLES;Impt=IMPACT;Mvmt=MOVEMENT;Suct=SUCTION
MACH|MACHINES|Misc;Amus=AMUSEMENT;Antq=ANTIQUE;Appl=APPLIANCE;Cnst=CONSTRUCTION;Elev=ELEVATOR;Escl=ESCALATOR;Fan;Tech=HITECH;Hvac;Ind=INDUSTRIAL;Mech=MECHANISM;Med=MEDICAL;Offi=OFFICE;Pump
MAG|MAGIC|Misc;Angl=ANGELIC;Elem=ELEMENTAL;Evil;Poof;Shim=SHIMMER;Spel=SPELL
MECH|MECHANICAL|Misc;Clik=CLICK;Gear=GEARS;Hydr=HYDRAULIC & PNEUMATIC;Ltch=LATCH;Lvr=LEVER;Lock;Puly=PULLEY;Rtch=RATCHET;Relay;Rolr=ROLLER;Swtch=SWITCH
METL|METAL|Misc;Brk=BREAK;Crsh=CRASH & DEBRIS;Fric=FRICTION;Impt=IMPACT;Mvmt=MOVEMENT;Tonl=TONAL
MOTR|MOTORS|Misc;Antq=ANTIQUE;Comb=COMBUSTION;Elec=ELECTRIC;Srvo=SERVO;Turb=TURBINE
MOVE|MOVEMENT|Misc;Actv=ACTIVITY;Anml=ANIMAL;Crea=CREATURE;Crwd=CROWD;Insc=INSECT;Pres=PRESENCE
MUSC|MUSICAL|Misc;Brass;Chim=CHIME;Chor=CHORAL;Inst=INSTRUMENT;Loop;Perc=PERCUSSION;Smpl=SAMPLE;Song=SONG & PHRASE;Stngr=STINGER;Str=STRINGED;Wind=WOODWIND;Toy
NATD|NATURAL DISASTER|Misc;Aval=AVALANCHE;Quak=EARTHQUAKE;Torn=TORNADO;Tsun=TSUNAMI;Thyp=TYPHOON;Volc=VOLCANO
OBJ|OBJECTS|Misc;Bag;Coin;Furn=FURNITURE;Hsehld=HOUSEHOLD;Jewl=JEWELRY;Lug=LUGGAGE;Key=KEYS;Med=MEDICAL;Pack=PACKAGING;Tape;Umbr=UMBRELLA;Whled=WHEELED;Write=WRITING;Zipr=ZIPPER
PAPR|PAPER|Misc;Fltr=FLUTTER;Hndl=HANDLE;Rip
PLAS|PLASTIC|Misc;Brk=BREAK;Crsh=CRASH & DEBRIS;Fric=FRICTION;Impt=IMPACT;Mvmt=MOVEMENT
RAIN|RAIN|=GENERAL;Clth=CLOTH;Conc=CONCRETE;Glas=GLASS;Metl=METAL;Plas=PLASTIC;Vege=VEGETATION;Wood;Watr=WATER
ROBT|ROBOTS|Misc;Mvmt=MOVEMENT;Vox=VOCAL
ROCK|ROCKS|Misc;Brk=BREAK;Crsh=CRASH & DEBRIS;Fric=FRICTION;Impt=IMPACT;Mvmt=MOVEMENT;Tonl=TONAL
ROPE|ROPE|Misc;Creak;Mvmt=MOVEMENT
RUBR|RUBBER|Misc;Crsh=CRASH & DEBRIS;Fric=FRICTION;Impt=IMPACT;Mvmt=MOVEMENT
SCI|SCIFI|Misc;Alrm=ALARM;Cmpt=COMPUTER;Door;Enrg=ENERGY;Mach=MACHINE;Retro;Ship=SPACESHIP;Veh=VEHICLE;Weap=WEAPON
SNOW|SNOW|Misc;Crsh=CRASH & DEBRIS;Fric=FRICTION;Impt=IMPACT;Mvmt=MOVEMENT
SPRT|SPORTS|Misc;Court;Field;Gym;Indor=INDOOR;Skate;Trck=TRACK & FIELD;Watr=WATER;Wntr=WINTER
SWSH|SWOOSHES|=SWISH
WHSH|SWOOSHES|=WHOOSH
TOOL|TOOLS|Misc;Hand;Pneu=PNEUMATIC;Powr=POWER
TOY|TOYS|Misc;Mech=MECHANICAL;Elec=ELECTRONIC
TRN|TRAINS|Misc;Brake;Clak=CLACK;Diesl=DIESEL;Elec=ELECTRIC;Hspd=HIGH SPEED;Horn;Mech=MECHANISM;Steam;Sbwy=SUBWAY;Tram
UI|USER INTERFACE|Misc;Alert;Beep;Click;Data;Glitch;Mvmt=MOTION
VEGE|VEGETATION|Misc;Gras=GRASS;Leaf=LEAVES;Tree
VEH|VEHICLES|Misc;Alrm=ALARM;Antq=ANTIQUE;Atv;Bike=BICYCLE;Brake;Bus;Car;Cnst=CONSTRUCTION;Door;Elec=ELECTRIC;Farm;Frght=FREIGHT;Horn;By=GENERIC BY;Jalop=JALOPY;Mech=MECHANISM;Mil=MILITARY;Moto=MOTORCYCLE;Race=RACING;Skid;Sirn=SIREN;Susp=SUSPENSION;Tire;Truck=TRUCK VAN & SUV;Util=UTILITY;Wagn=WAGON;Wndw=WINDOW
VOX|VOICES|Misc;Alien;Baby;Cheer;Chld=CHILD;Cry=CRYING;Efrt=EFFORTS;Fem=FEMALE;Futz=FUTZED;Hist=HISTORICAL;Laff=LAUGH;Male;Reac=REACTION;Scrm=SCREAM;Sing=SINGING
WATR|WATER|Misc;Bubl=BUBBLES;Dran=DRAIN;Drip;Fizz;Flow;Foun=FOUNTAIN;Impt=IMPACT;Lap;Mvmt=MOVEMENT;Plmb=PLUMBING;Pour;Splsh=SPLASH;Spray;Stm=STEAM;Surf;Turb=TURBULENT;Fall=WATERFALL;Wave
WEAP|WEAPONS|Misc;Armr=ARMOR;Arro=ARROW;Blnt=BLUNT;Bow;Knif=KNIFE;Pole=POLEARM;Siege;Swrd=SWORD;Whip
WTHR|WEATHER|=MISC
HAIL|WEATHER|=HAIL
STORM|WEATHER|=STORM
THUN|WEATHER|=THUNDER
WHST|WHISTLES|Misc;Hmn=HUMAN;Mech=MECHANICAL
WIND|WIND|=GENERAL;Dsgn=DESIGNED;Gust;Int=INTERIOR;Tonl=TONAL;Vege=VEGETATION
WNDW|WINDOWS|Misc;Cover=COVERING;Hdwr=HARDWARE;Knck=KNOCK;Metl=METAL;Plas=PLASTIC;Wood
WING|WINGS|Misc;Bird;Crea=CREATURE;Insc=INSECT
WOOD|WOOD|Misc;Brk=BREAK;Crsh=CRASH & DEBRIS;Fric=FRICTION;Impt=IMPACT;Mvmt=MOVEMENT;Tonl=TONAL
"""


ONE_SHOT_CATEGORIES = frozenset({"FOOTSTEPS", "EXPLOSIONS"})
ONE_SHOT_SUBCATEGORIES = frozenset(
    {"IMPACT", "KNOCK", "BODYFALL", "BLUNT", "PISTOL", "RIFLE", "SHOTGUN", "LATCH", "SWITCH", "CLICK", "BREAK"}
)
ONE_SHOT_WORDS = frozenset(
    [
        "footstep",
        "footsteps",
        "step",
        "steps",
        "stomp",
        "impact",
        "impacts",
        "hit",
        "hits",
        "slam",
        "slams",
        "slammed",
        "knock",
        "knocks",
        "bounce",
        "bounces",
        "thud",
        "thump",
        "bang",
        "punch",
        "kick",
        "clap",
        "smack",
        "tap",
        "taps",
        "drop",
        "drops",
        "crash",
        "gunshot",
        "shot",
        "bodyfall",
        "land",
        "landing",
    ]
)
"""Words of a label, tag or UCS category that say a sound is one hit, synced to the frame of contact."""
TEXTURE_WORDS = frozenset(
    [
        "loop",
        "loops",
        "loopable",
        "ambience",
        "ambient",
        "atmos",
        "drone",
        "hum",
        "idle",
        "constant",
        "continuous",
        "steady",
        "rumble",
        "roll",
        "rolling",
        "engine",
        "traffic",
        "rain",
        "wind",
        "crowd",
        "walla",
        "running",
        "sequence",
        "series",
    ]
)
"""Words that say a sound is a texture (kept spread over the interval, never cut to hits)."""


def one_shot_words(*texts: str) -> bool | None:
    """True when the texts hold an impact word and no texture word; False for a texture word; else None."""
    words = {w for text in texts for w in text.lower().replace("-", " ").replace("_", " ").split()}
    if words & TEXTURE_WORDS:
        return False
    return True if words & ONE_SHOT_WORDS else None


@dataclass(frozen=True)
class UcsCategory:
    """One CatID and the words it stands for."""

    cat_id: str
    category: str
    subcategory: str

    @property
    def is_ambience(self) -> bool:
        return self.category == AMBIENCE

    @property
    def is_one_shot(self) -> bool:
        """Categories whose sounds are single hits put on the frame of contact (FOOTSTEPS, any IMPACT, KNOCK...)."""
        return self.category in ONE_SHOT_CATEGORIES or self.subcategory in ONE_SHOT_SUBCATEGORIES

    @property
    def words(self) -> tuple[str, ...]:
        """Lower-case words for a text prompt ("doors", "wood"); MISC/GENERAL carry no meaning."""
        parts = [self.category] + ([] if self.subcategory in ("MISC", "GENERAL") else [self.subcategory])
        return tuple(p.lower() for p in parts)


@dataclass(frozen=True)
class UcsName:
    """The fields of a UCS file name (extension removed)."""

    category: UcsCategory
    user_category: str
    fx_name: str
    creator_id: str
    source_id: str


@lru_cache(maxsize=1)
def _catalog() -> dict[str, UcsCategory]:
    table: dict[str, UcsCategory] = {}
    for line in _TABLE.strip().splitlines():
        prefix, category, items = line.split("|")
        for item in items.split(";"):
            suffix, _, sub = item.partition("=")
            cat_id = prefix + suffix
            table[cat_id] = UcsCategory(cat_id, category, sub or suffix.upper())
    return table


@lru_cache(maxsize=1)
def _folded() -> dict[str, UcsCategory]:
    return {k.lower(): v for k, v in _catalog().items()}


def categories() -> tuple[UcsCategory, ...]:
    """Every CatID of the table, in table order."""
    return tuple(_catalog().values())


def lookup(cat_id: str) -> UcsCategory | None:
    """The category of a CatID (exact spelling first, then ignoring case), or None."""
    return _catalog().get(cat_id.strip()) or _folded().get(cat_id.strip().lower())


def lookup_words(category: str, subcategory: str = "") -> UcsCategory | None:
    """The CatID whose category (and subcategory, when given) words match, or None."""
    cat, sub = category.strip().upper(), subcategory.strip().upper()
    for entry in _catalog().values():
        if entry.category == cat and (not sub or entry.subcategory == sub):
            return entry
    return None


_CATID_RE = re.compile(r"^([A-Z]{2,6}[A-Za-z]*)(?:-([^_]*))?$")


def parse_ucs_name(stem: str) -> UcsName | None:
    """Split a UCS file name (no extension) into its fields; None when it is not UCS.

    The first ``_``-field must be a known CatID (case as published, or all capitals).
    """
    fields = stem.split("_")
    match = _CATID_RE.match(fields[0])
    if len(fields) < 2 or match is None:
        return None
    category = _catalog().get(match.group(1)) or _catalog().get(match.group(1).upper())
    if category is None:
        return None
    rest = [*fields[1:], "", ""]
    return UcsName(category, match.group(2) or "", rest[0], rest[1], "_".join(fields[3:]))
